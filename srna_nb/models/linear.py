"""Linear baselines: logistic regression for classes, ridge regression for numbers."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression, RidgeCV


def linear_classifier(C: float = 1.0, max_iter: int = 500, class_weight: str | None = "balanced", random_state: int = 0) -> LogisticRegression:
    """L2-regularized multinomial logistic regression: the simple baseline a fair benchmark needs.

    ``C = 1.0`` (scikit-learn's default), measured against 0.01-0.2 on every benchmark row (docs/design.md).
    """
    return LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight, random_state=random_state)


def linear_regressor(alphas: Sequence[float] = tuple(np.logspace(-2, 5, 15))) -> RidgeCV:
    """Ridge regression, its penalty chosen by leave-one-out on the training rows only (efficient, exact)."""
    return RidgeCV(alphas=alphas)
