"""Probability calibration: temperature scaling, expected calibration error, reliability tables,
split-conformal quantiles and class prediction sets.

A classifier is calibrated when, among samples predicted with probability ~0.8, about 80% are
right. Networks trained with cross-entropy and forests of fully grown trees are usually not.
Temperature scaling (Guo et al. 2017) divides the log-probabilities by one number ``T`` fitted to
minimise the log-loss on predictions for samples the model did not train on (out-of-fold), so
it fixes over- or under-confidence without changing which class is predicted.

A prediction set (split conformal, "least ambiguous" sets of Sadinle et al. 2019) holds every
class whose calibrated probability reaches a threshold chosen on held-out predictions so that
the set contains the true class for a nominal share (e.g. 90%) of held-out samples. Calibrated
on study-held-out predictions, the guarantee is about new studies of the same kind; a set that
names two tissues is an honest answer where one label would be a guess.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from srna_nb.errors import SrnaParameterError, validate_params

#: Probabilities are clipped to at least this before taking logs (forests give exact zeros).
PROBABILITY_FLOOR = 1e-6


class TemperatureScaler(TransformerMixin, BaseEstimator):
    """Rescale class probabilities ``p`` to ``softmax(log(p) / T)``.

    Parameters
    ----------
    bounds
        Search range of ``T``.

    Attributes
    ----------
    temperature_ : float
        ``T > 1`` softens over-confident probabilities, ``T < 1`` sharpens under-confident ones.
    """

    _parameter_constraints: dict = {"bounds": [tuple]}

    def __init__(self, bounds: tuple[float, float] = (0.05, 20.0)):
        self.bounds = bounds

    def fit(self, proba: np.ndarray, y: np.ndarray):
        """``proba``: (n_samples, n_classes) out-of-fold probabilities; ``y``: true class positions."""
        validate_params(self)
        if len(self.bounds) != 2 or not 0 < self.bounds[0] < self.bounds[1]:
            raise SrnaParameterError(f"TemperatureScaler: bounds must be (low, high) with 0 < low < high, got {self.bounds!r}")
        proba, y = validate_data(self, proba, y, dtype=np.float64, ensure_min_features=2)
        if not np.issubdtype(np.asarray(y).dtype, np.integer) or y.min() < 0 or y.max() >= proba.shape[1]:
            raise SrnaParameterError(f"temperature scaling needs class positions 0-{proba.shape[1] - 1} (a column of the "
                                     f"probabilities) as labels, got values from {y.min()} to {y.max()}")
        logs = _logs(proba)
        rows = np.arange(len(y))

        def loss(log_temperature: float) -> float:
            return -float(np.mean(log_softmax(logs / np.exp(log_temperature), axis=1)[rows, y]))

        low, high = np.log(self.bounds[0]), np.log(self.bounds[1])
        self.temperature_ = float(np.exp(minimize_scalar(loss, bounds=(low, high), method="bounded").x))
        return self

    def transform(self, proba: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "temperature_")
        proba = validate_data(self, proba, dtype=np.float64, reset=False)
        return softmax(_logs(proba) / self.temperature_, axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # the labels are what the temperature is fitted to
        return tags


def _logs(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim != 2:
        raise SrnaParameterError(f"probabilities must be a 2-d array (samples x classes), got shape {proba.shape}")
    return np.log(np.clip(proba, PROBABILITY_FLOOR, 1.0))


def reliability_table(proba: np.ndarray, y: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Samples binned by confidence (probability of the predicted class).

    Returns
    -------
    One row per non-empty bin: ``low``, ``high``, ``samples``, ``confidence`` (mean), ``accuracy``.
    """
    proba = np.asarray(proba)
    confidence = proba.max(axis=1)
    correct = np.argmax(proba, axis=1) == np.asarray(y)
    edges = np.linspace(0, 1, n_bins + 1)
    bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        members = bins == b
        if members.any():
            rows.append({"low": edges[b], "high": edges[b + 1], "samples": int(members.sum()),
                         "confidence": float(confidence[members].mean()), "accuracy": float(correct[members].mean())})
    return pd.DataFrame(rows)


def expected_calibration_error(proba: np.ndarray, y: np.ndarray, n_bins: int = 10) -> float:
    """Sample-weighted mean |accuracy - confidence| over confidence bins (ECE)."""
    table = reliability_table(proba, y, n_bins)
    if table.empty:
        return float("nan")
    return float(np.sum(table["samples"] * (table["accuracy"] - table["confidence"]).abs()) / table["samples"].sum())


def conformal_quantile(scores: np.ndarray, coverage: float) -> float:
    """Split-conformal quantile: the ``ceil((n + 1) coverage)``-th smallest of ``scores``.

    With too few scores for the coverage asked (that rank above ``n``), the largest one.
    """
    if not 0 < coverage < 1:
        raise SrnaParameterError(f"coverage must be between 0 and 1, got {coverage}")
    scores = np.sort(np.asarray(scores, dtype=float))
    if scores.size == 0:
        raise SrnaParameterError("conformal calibration needs at least one held-out score")
    rank = min(len(scores), math.ceil((len(scores) + 1) * coverage))
    return float(scores[rank - 1])


def set_threshold(proba: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """Probability a class needs to enter a prediction set of nominal ``coverage``.

    ``proba`` are held-out (calibrated) probabilities, ``y`` the true classes' column positions;
    the non-conformity score is one minus the true class' probability.
    """
    proba = np.asarray(proba, dtype=float)
    return 1.0 - conformal_quantile(1.0 - proba[np.arange(len(proba)), np.asarray(y)], coverage)


def set_members(proba: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean samples x classes: which classes are in each sample's prediction set.

    The most probable class is always in (a set is never empty; an empty one would say "none of
    the classes", which the novelty score's ``unknown`` status says with its own calibration).
    """
    proba = np.asarray(proba, dtype=float)
    members = proba >= threshold
    members[np.arange(len(proba)), np.argmax(proba, axis=1)] = True
    return members
