"""Small helpers shared by the explanation methods."""

from __future__ import annotations

from typing import Sequence

from srna_nb.errors import SrnaParameterError


def feature_labels(feature_names: Sequence[str] | None, n_features: int) -> list[str]:
    """The given feature names, or x0, x1, ... when there are none."""
    if feature_names is None:
        return [f"x{i}" for i in range(n_features)]
    names = list(feature_names)
    if len(names) != n_features:
        raise SrnaParameterError(f"{len(names)} feature names for {n_features} model inputs")
    return names
