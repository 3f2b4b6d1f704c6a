"""srna_nb: predict missing metadata of small-RNA sequencing samples from their expression profiles.

The Keras backend is chosen here, before anything imports keras or eli5 (which imports keras):
JAX by default, or whatever the user has already put in ``KERAS_BACKEND``. JAX's persistent
compilation cache is switched on here too (see :func:`_use_jax_compilation_cache`).
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")


def _use_jax_compilation_cache() -> None:
    """Keep compiled XLA programs on disk, so that each MLP fit does not compile them again.

    Every fit builds a fresh network and JAX compiles its train, evaluation and prediction steps
    (about 2 s on a CPU); on a few hundred samples that is a quarter of the fit. Programs are
    keyed by their computation, so a cached one is the program a compile would give (the same
    results). Set through environment variables, which worker processes inherit. The folder is
    ``SRNA_NB_JAX_CACHE``, else ``$XDG_CACHE_HOME/srna_nb/jax`` (``~/.cache/srna_nb/jax``);
    ``SRNA_NB_JAX_CACHE=off`` or a ``JAX_COMPILATION_CACHE_DIR`` of the user's own leaves JAX as it is.
    """
    chosen = os.environ.get("SRNA_NB_JAX_CACHE", "")
    if chosen.lower() == "off" or "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    settings = {"JAX_COMPILATION_CACHE_DIR": chosen or os.path.join(cache_home, "srna_nb", "jax"),
                # JAX's defaults keep only programs that took over a second to compile.
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}
    for name, value in settings.items():
        os.environ.setdefault(name, value)
    if "jax" in sys.modules:  # imported before srna_nb: JAX has read its environment already
        jax = sys.modules["jax"]
        jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
        jax.config.update("jax_persistent_cache_min_compile_time_secs", float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", int(os.environ["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"]))


_use_jax_compilation_cache()

from srna_nb.atlas import Atlas  # noqa: E402
from srna_nb.errors import SrnaError, SrnaInputError, SrnaParameterError  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Atlas", "SrnaError", "SrnaInputError", "SrnaParameterError", "__version__"]
