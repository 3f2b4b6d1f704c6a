"""srna_nb: predict missing metadata of small-RNA sequencing samples from their expression profiles.

The Keras backend is chosen here, before anything imports keras or eli5 (which imports keras):
JAX by default, or whatever the user has already put in ``KERAS_BACKEND``.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

from srna_nb.atlas import Atlas  # noqa: E402
from srna_nb.errors import SrnaError, SrnaInputError, SrnaParameterError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Atlas", "SrnaError", "SrnaInputError", "SrnaParameterError", "__version__"]
