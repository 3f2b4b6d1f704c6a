"""Small helpers shared by the explanation methods."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from srna_nb.errors import SrnaParameterError


def class_indices(classifier, labels, allow_unknown: bool = False) -> np.ndarray:
    """Positions of ``labels`` in ``classifier.classes_``.

    A class the model was not trained on gives a one-line error, or -1 with ``allow_unknown``.
    """
    labels = np.asarray(labels)
    known = np.asarray(classifier.classes_)
    unknown = sorted(set(labels.tolist()) - set(known.tolist()))
    if unknown and not allow_unknown:
        raise SrnaParameterError(f"classes the model was not trained on: {', '.join(map(str, unknown[:5]))}")
    lookup = {label: index for index, label in enumerate(known.tolist())}
    return np.array([lookup.get(label, -1) for label in labels.tolist()], dtype=np.intp)


def feature_labels(feature_names: Sequence[str] | None, n_features: int) -> list[str]:
    """The given feature names, or x0, x1, ... when there are none."""
    if feature_names is None:
        return [f"x{i}" for i in range(n_features)]
    names = list(feature_names)
    if len(names) != n_features:
        raise SrnaParameterError(f"{len(names)} feature names for {n_features} model inputs")
    return names
