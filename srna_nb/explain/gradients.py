"""Gradient-based attributions for the MLP: integrated gradients, DeepLIFT (rescale), gradient x input.

Each method splits one class score of one sample into a contribution per input sRNA, relative to
a **baseline** (DeepLIFT's "reference") profile ``x0``. The explained score is the class's
*centred logit* ``z_c - mean_k z_k`` (the softmax input minus its mean over classes), which is
what DeepLIFT recommends for softmax outputs: it carries the same ranking as the class
probability but is not squashed by saturation.

Default baseline: the zero vector at the classifier's input. The study pipelines centre
every sRNA on the training samples, so zero is the **average training profile** (each sRNA at
its mean log2 RPM): an attribution says how much a sample's deviation from the average sample
in that sRNA moved the prediction towards the class. Any other baseline (e.g. the mean profile
of another class) can be passed as a vector.

- ``integrated_gradients``: ``(x - x0) * mean of the gradient along the straight path from x0
  to x`` (midpoint rule, ``steps`` points). Completeness: contributions sum to
  ``f(x) - f(x0)`` up to the quadrature error, which :func:`completeness_gap` reports.
- ``deeplift``: DeepLIFT's rescale rule, exact for ReLU networks: each ReLU passes on
  ``delta output / delta input`` between sample and baseline. Contributions sum to
  ``f(x) - f(x0)`` exactly (summation-to-delta).
- ``gradient_x_input``: ``(x - x0) * gradient at x``; fastest, no completeness guarantee.

The network is taken from the estimator's ``dense_layers()`` (affine maps with ReLU between
them, in float64 numpy), so the methods work whatever the Keras backend is.

For a regressor (:class:`~srna_nb.models.DLRegressor`, one output) the explained score is the
prediction itself, in the target's units (years of age): contributions then sum to the predicted
value minus the prediction for the baseline profile (:func:`regression_attributions`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from srna_nb.errors import SrnaParameterError
from srna_nb.explain.common import feature_labels
from srna_nb.targets import class_indices

METHODS = ("integrated_gradients", "deeplift", "gradient_x_input")
#: Rows per block when integrating gradients (bounds memory to rows x steps x features).
_ROWS_PER_BLOCK = 64


class ReluNetwork:
    """A feed-forward network of affine maps with ReLU between them, scoring centred logits.

    Parameters
    ----------
    layers
        ``(kernel, bias)`` pairs; the last one produces the logits (or, with one output, the
        regressor's prediction, which is scored as it is: centring one value would leave zero).
    """

    def __init__(self, layers: Sequence[tuple[np.ndarray, np.ndarray]]):
        *self.hidden, (kernel, bias) = [(np.asarray(w, np.float64), np.asarray(b, np.float64)) for w, b in layers]
        # Centring over classes is linear, so it folds into the output layer.
        self.output = (kernel - kernel.mean(axis=1, keepdims=True), bias - bias.mean()) if kernel.shape[1] > 1 else (kernel, bias)

    @classmethod
    def from_classifier(cls, classifier) -> "ReluNetwork":
        if not hasattr(classifier, "dense_layers"):
            raise SrnaParameterError(
                f"{type(classifier).__name__} has no dense_layers(); gradient attributions need a DL model"
            )
        return cls(classifier.dense_layers())

    def pre_activations(self, X: np.ndarray) -> list[np.ndarray]:
        """Each hidden layer's input to its ReLU."""
        values, activation = [], X
        for kernel, bias in self.hidden:
            values.append(activation @ kernel + bias)
            activation = np.maximum(values[-1], 0.0)
        return values

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Centred logits, shape (n_samples, n_classes)."""
        hidden = self.pre_activations(X)
        last = np.maximum(hidden[-1], 0.0) if hidden else X
        return last @ self.output[0] + self.output[1]

    def backpropagate(self, multipliers: list[np.ndarray], targets: np.ndarray) -> np.ndarray:
        """Input multipliers of each row's target score, given each hidden unit's multiplier.

        With ReLU derivatives as multipliers this is the gradient; with DeepLIFT's rescale
        ratios it is DeepLIFT's multiplier.
        """
        signal = self.output[0][:, targets].T  # (rows, last hidden units)
        for (kernel, _), multiplier in zip(reversed(self.hidden), reversed(multipliers)):
            signal = (signal * multiplier) @ kernel.T
        return signal

    def gradient(self, X: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.backpropagate([(z > 0).astype(np.float64) for z in self.pre_activations(X)], targets)


def attributions(
    classifier,
    X: np.ndarray,
    targets: np.ndarray,
    *,
    method: str = "integrated_gradients",
    baseline: np.ndarray | None = None,
    steps: int = 64,
) -> np.ndarray:
    """Per-sample, per-feature contributions to one class score of each sample.

    Parameters
    ----------
    classifier
        A fitted estimator with ``dense_layers()`` (:class:`~srna_nb.models.DLClassifier`).
    X
        Classifier inputs (after preprocessing), shape (n_samples, n_features).
    targets
        Index (into ``classifier.classes_``) of the class to explain, one per sample.
    method
        ``integrated_gradients``, ``deeplift`` or ``gradient_x_input``.
    baseline
        Reference profile, shape (n_features,); None: zeros (the average training profile
        under centring or standardization).
    steps
        Integration points of integrated gradients.

    Returns
    -------
    Array (n_samples, n_features).
    """
    if method not in METHODS:
        raise SrnaParameterError(f"unknown attribution method {method!r}; choose from {', '.join(METHODS)}")
    network = ReluNetwork.from_classifier(classifier)
    X = np.asarray(X, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.intp)
    if targets.shape != (X.shape[0],):
        raise SrnaParameterError(f"targets must have one class index per sample ({X.shape[0]}), got shape {targets.shape}")
    reference = np.zeros(X.shape[1]) if baseline is None else np.asarray(baseline, dtype=np.float64)
    if reference.shape != (X.shape[1],):
        raise SrnaParameterError(f"baseline must have {X.shape[1]} values (one per model input), got shape {reference.shape}")
    delta = X - reference
    if method == "gradient_x_input":
        return delta * network.gradient(X, targets)
    if method == "deeplift":
        return delta * _rescale_multipliers(network, X, reference, targets)
    if steps < 1:
        raise SrnaParameterError(f"steps must be at least 1, got {steps}")
    alphas = (np.arange(steps) + 0.5) / steps
    average = np.empty_like(X)
    for start in range(0, len(X), _ROWS_PER_BLOCK):
        rows = slice(start, start + _ROWS_PER_BLOCK)
        path = reference + alphas[:, None, None] * delta[None, rows]  # (steps, rows, features)
        n_rows = path.shape[1]
        gradients = network.gradient(path.reshape(-1, X.shape[1]), np.tile(targets[rows], steps))
        average[rows] = gradients.reshape(steps, n_rows, -1).mean(axis=0)
    return delta * average


def _rescale_multipliers(network: ReluNetwork, X: np.ndarray, reference: np.ndarray, targets: np.ndarray) -> np.ndarray:
    sample = network.pre_activations(X)
    base = network.pre_activations(reference[None, :])
    multipliers = []
    for z, z0 in zip(sample, base):
        change = z - z0
        tiny = np.abs(change) < 1e-12
        # Where the input did not move, the ratio is undefined: use the gradient (DeepLIFT's choice).
        ratio = (np.maximum(z, 0.0) - np.maximum(z0, 0.0)) / np.where(tiny, 1.0, change)
        multipliers.append(np.where(tiny, (z > 0).astype(np.float64), ratio))
    return network.backpropagate(multipliers, targets)


def completeness_gap(classifier, X: np.ndarray, targets: np.ndarray, values: np.ndarray, baseline: np.ndarray | None = None) -> np.ndarray:
    """Per sample: sum of attributions minus the score difference ``f(x) - f(baseline)``."""
    network = ReluNetwork.from_classifier(classifier)
    X = np.asarray(X, dtype=np.float64)
    reference = np.zeros(X.shape[1]) if baseline is None else np.asarray(baseline, dtype=np.float64)
    rows = np.arange(len(X))
    difference = network.scores(X)[rows, targets] - network.scores(reference[None, :])[0, targets]
    return values.sum(axis=1) - difference


def class_attributions(
    classifier,
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "integrated_gradients",
    feature_names: Sequence[str] | None = None,
    baseline: np.ndarray | None = None,
    steps: int = 64,
) -> pd.DataFrame:
    """Mean attribution per class: each sample's contributions to its own (true) class' score.

    Returns
    -------
    Tidy table ``class, feature, importance`` (mean over the class's samples), ``std``,
    ``n_samples``; within each class sorted by importance, largest (strongest evidence for the
    class) first.
    """
    y = np.asarray(y)
    values = attributions(classifier, X, class_indices(classifier, y), method=method, baseline=baseline, steps=steps)
    return mean_by_class(values, y, feature_labels(feature_names, values.shape[1]))


def mean_by_class(values: np.ndarray, y: np.ndarray, feature_names: Sequence[str]) -> pd.DataFrame:
    """Tidy per-class mean and SD of per-sample attributions (see :func:`class_attributions`)."""
    parts = []
    for label in pd.unique(np.asarray(y)):
        rows = values[np.asarray(y) == label]
        parts.append(pd.DataFrame({
            "class": label, "feature": list(feature_names), "importance": rows.mean(axis=0), "std": rows.std(axis=0),
            "n_samples": len(rows),
        }).sort_values("importance", ascending=False, kind="stable"))
    return pd.concat(parts, ignore_index=True)


def sample_attributions(
    classifier,
    X: np.ndarray,
    *,
    sample_ids: Sequence[str] | None = None,
    classes: Sequence[str] | None = None,
    method: str = "integrated_gradients",
    feature_names: Sequence[str] | None = None,
    baseline: np.ndarray | None = None,
    steps: int = 64,
) -> pd.DataFrame:
    """Samples x features: contributions to each sample's predicted class (or the given ``classes``)."""
    X = np.asarray(X, dtype=np.float64)
    if classes is None:
        targets = np.argmax(ReluNetwork.from_classifier(classifier).scores(X), axis=1)
    else:
        targets = class_indices(classifier, classes)
    values = attributions(classifier, X, targets, method=method, baseline=baseline, steps=steps)
    index = pd.Index(sample_ids if sample_ids is not None else range(len(X)), name="sample_id")
    table = pd.DataFrame(values, index=index, columns=pd.Index(feature_labels(feature_names, X.shape[1]), name="feature"))
    table.insert(0, "explained class", np.asarray(classifier.classes_)[targets])
    return table


def regression_attributions(
    regressor,
    X: np.ndarray,
    *,
    method: str = "integrated_gradients",
    baseline: np.ndarray | None = None,
    steps: int = 64,
) -> np.ndarray:
    """Per-sample, per-feature contributions to a DL regressor's prediction, in the target's units.

    Same methods and baseline as :func:`attributions` (the default baseline is the average
    training profile); each row sums (exactly for DeepLIFT) to the sample's predicted value minus
    the prediction for the baseline.
    """
    X = np.asarray(X, dtype=np.float64)
    return attributions(regressor, X, np.zeros(len(X), dtype=np.intp), method=method, baseline=baseline, steps=steps)


def mean_absolute_attributions(values: np.ndarray, feature_names: Sequence[str]) -> pd.DataFrame:
    """Per feature: mean absolute contribution (``importance``), mean signed contribution and SD, largest first.

    For a number, contributions of both signs matter (an sRNA can raise some predictions and
    lower others), so the ranking uses their magnitude; ``mean contribution`` keeps the direction.
    """
    table = pd.DataFrame({"feature": list(feature_names), "importance": np.abs(values).mean(axis=0),
                          "mean contribution": values.mean(axis=0), "std": values.std(axis=0), "n_samples": len(values)})
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
