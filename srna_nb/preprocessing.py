"""Leak-free preprocessing as scikit-learn transformers.

Each step learns what it needs (detected features, means, scales) in ``fit`` on training samples
only, so that inside a :class:`~sklearn.pipeline.Pipeline` nothing from a test fold reaches
training. :func:`make_preprocessor` composes the default chain: RPM, log2(x + 1), detection
filter, (quantile normalization,) centring, and the fill of unmeasured values.

**Unmeasured is not zero.** NaN marks an sRNA that a sample's matrix does not hold at all (its
pipeline did not report it; several atlases trained together, :func:`srna_nb.atlas.concat_atlases`,
or a new matrix that lacks a bundle's sRNA), as opposed to 0, an sRNA counted and not found.
Every step passes NaN through and learns from the measured values only: library sizes sum what
was measured, detection is the share among samples that measured the sRNA, quantile
normalization ranks a sample's measured sRNAs and maps them onto the reference's quantiles. The
last step (``fill``) sets NaN to 0, the training mean after centring, so that an unmeasured sRNA
pulls no class either way: the same imputation in training and in prediction.
"""

from __future__ import annotations

from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from srna_nb.errors import SrnaParameterError, validate_params


#: Rows per block where a float64 intermediate would otherwise span the whole matrix.
ROW_BLOCK = 4096


class _Float32Output:
    """Transformers that return float32 whatever comes in (half the memory) and pass NaN (unmeasured) through, as their tags say."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.allow_nan = True
        return tags


class _PerSample(_Float32Output):
    """Stateless per-sample transformers: ``fit`` checks the parameters and learns the number of features only."""

    def fit(self, X, y=None):
        validate_params(self)
        validate_data(self, X, dtype=np.float32, reset=True, ensure_all_finite="allow-nan")
        return self

    def _inputs(self, X) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return validate_data(self, X, dtype=np.float32, reset=False, ensure_all_finite="allow-nan")


class LibrarySizeNormalizer(_PerSample, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Scale each sample to reads per million (RPM).

    The denominator is the sample's total over all features of the input matrix, before any
    feature filtering, so that a sample's RPM values do not depend on which features another
    fold's filter keeps; unmeasured values (NaN) are left out of it and stay NaN. Stateless:
    ``fit`` learns only the number of features.
    """

    _parameter_constraints: dict = {"scale": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, scale: float = 1e6):
        self.scale = scale

    def transform(self, X):
        X = self._inputs(X)
        totals = np.nansum(X, axis=1, keepdims=True, dtype=np.float64)
        totals[totals == 0] = 1.0  # an empty library stays all zeros instead of dividing by zero
        factors = self.scale / totals
        # Row blocks: the float64 product exists for one block at a time, not for the whole matrix.
        out = np.empty(X.shape, dtype=np.float32)
        for start in range(0, X.shape[0], ROW_BLOCK):
            rows = slice(start, start + ROW_BLOCK)
            out[rows] = X[rows] * factors[rows]
        return out


class Log2p(_PerSample, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """``log2(x + pseudocount)``; stateless."""

    _parameter_constraints: dict = {"pseudocount": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, pseudocount: float = 1.0):
        self.pseudocount = pseudocount

    def transform(self, X):
        X = self._inputs(X)
        out = X + np.float32(self.pseudocount)
        return np.log2(out, out=out)  # in place: one new matrix, not two


class DetectionFilter(_Float32Output, TransformerMixin, BaseEstimator):
    """Keep features expressed (value above ``threshold``) in at least ``min_share`` of training samples.

    The share counts the samples that measured the feature (NaN: unmeasured, see the module
    docstring); a feature no training sample measured is dropped.

    Attributes
    ----------
    support_ : ndarray of bool
        Which input features are kept.
    """

    _parameter_constraints: dict = {"min_share": [Interval(Real, 0, 1, closed="both")], "threshold": [Real]}

    def __init__(self, min_share: float = 0.01, threshold: float = 0.0):
        self.min_share = min_share
        self.threshold = threshold

    def fit(self, X, y=None):
        validate_params(self)
        X = validate_data(self, X, dtype=np.float32, reset=True, ensure_all_finite="allow-nan")
        measured = (~np.isnan(X)).sum(axis=0)
        self.detection_share_ = (X > self.threshold).sum(axis=0) / np.maximum(measured, 1)
        self.support_ = self.detection_share_ >= self.min_share
        if not self.support_.any():
            raise SrnaParameterError(
                f"no feature is detected in {self.min_share:.1%} of the training samples; lower min_share"
            )
        return self

    def transform(self, X):
        check_is_fitted(self, "support_")
        X = validate_data(self, X, dtype=np.float32, reset=False, ensure_all_finite="allow-nan")
        return X[:, self.support_]

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "support_")
        names = np.asarray(input_features if input_features is not None else getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]), dtype=object)
        return names[self.support_]


class QuantileNormalizer(_Float32Output, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Quantile normalization: each sample's values become a reference distribution at their within-sample ranks.

    The reference is the mean of the training samples' sorted values, so the output keeps the
    input's scale (log2 units), and only the order of sRNAs within a sample carries over: a
    pipeline that compresses or stretches the whole distribution of a sample changes nothing.
    Ties (e.g. undetected sRNAs) get the reference's mean over their rank positions.

    A sample with unmeasured values (NaN) is ranked among its measured sRNAs, and its ``m``
    measured values take the reference's quantiles: rank interval ``[low, high)`` of ``m`` becomes
    ``[low n / m, high n / m)`` of the reference's ``n`` positions (the usual treatment of missing
    values in quantile normalization); NaN stays NaN. In ``fit``, such a sample's sorted values
    are resampled onto ``n`` positions before averaging. Without NaN both are the plain method.

    Attributes
    ----------
    reference_ : ndarray of shape (n_features_in_,)
        Sorted reference values.
    """

    _parameter_constraints: dict = {}

    def fit(self, X, y=None):
        validate_params(self)
        X = validate_data(self, X, dtype=np.float32, reset=True, ensure_all_finite="allow-nan")
        missing = np.isnan(X)
        complete = ~missing.any(axis=1)
        n = X.shape[1]
        total = np.sort(X[complete], axis=1).sum(axis=0, dtype=np.float64)
        positions = (np.arange(n) + 0.5) / n
        for row in np.flatnonzero(~complete):
            values = np.sort(X[row, ~missing[row]]).astype(np.float64)
            if len(values) == 0:
                raise SrnaParameterError(f"QuantileNormalizer: training sample {row} has no measured value")
            # The sample's quantile function at the reference's n positions.
            total += np.interp(positions, (np.arange(len(values)) + 0.5) / len(values), values)
        self.reference_ = total / X.shape[0]
        return self

    def transform(self, X):
        from scipy.stats import rankdata

        check_is_fitted(self, "reference_")
        X = validate_data(self, X, dtype=np.float32, reset=False, ensure_all_finite="allow-nan")
        # Average ranks, then the mean of the reference over each tie's positions: the cumulative
        # sum gives that mean exactly (interpolation at the average rank would not, for a convex reference).
        cumulative = np.concatenate([[0.0], np.cumsum(self.reference_)])
        missing = np.isnan(X)
        complete = ~missing.any(axis=1)
        out = np.full(X.shape, np.nan, dtype=np.float32)
        if complete.any():
            low = rankdata(X[complete], axis=1, method="min") - 1
            high = rankdata(X[complete], axis=1, method="max")
            out[complete] = (cumulative[high] - cumulative[low]) / (high - low)
        n = X.shape[1]
        for row in np.flatnonzero(~complete):
            measured = ~missing[row]
            values = X[row, measured]
            if len(values) == 0:
                continue
            scale = n / len(values)
            low = (rankdata(values, method="min") - 1) * scale
            high = rankdata(values, method="max") * scale
            out[row, measured] = (_cumulative_at(cumulative, self.reference_, high)
                                  - _cumulative_at(cumulative, self.reference_, low)) / (high - low)
        return out


def _cumulative_at(cumulative: np.ndarray, reference: np.ndarray, position: np.ndarray) -> np.ndarray:
    """The reference's cumulative sum at fractional positions (each position's value spread evenly over its unit)."""
    whole = np.minimum(np.floor(position).astype(np.intp), len(reference) - 1)
    return cumulative[whole] + (position - whole) * reference[whole]


#: What each ``input_scale`` means for the preprocessing chain.
INPUT_SCALES = ("counts", "rpm", "log2_rpm", "intensity", "log2_intensity")


def to_linear(X: np.ndarray, value_kind: str, to_rpm: bool) -> np.ndarray:
    """Values on a linear scale (counts or RPM), where rows of one miRNA can be summed.

    ``log2_rpm`` becomes RPM (``2**x - 1``); ``counts`` become RPM over all the matrix' features
    when ``to_rpm`` (a model trained on RPM or log2-RPM), else stay counts. Array and assay
    signals (``intensity``, ``log2_intensity`` as ``2**x``) stay linear signals, rescaled to sum to
    a million per sample when ``to_rpm``: per-million in scale only, whose within-sample order is
    all a model on rank (quantile) inputs reads.
    """
    if value_kind not in INPUT_SCALES:
        raise SrnaParameterError(f"value kind must be one of {INPUT_SCALES}, got {value_kind!r}")
    X = np.asarray(X, dtype=np.float64)
    if value_kind == "log2_rpm":
        return np.maximum(np.exp2(X) - 1.0, 0.0)
    if value_kind == "log2_intensity":
        X = np.exp2(X)
    if value_kind in ("counts", "intensity", "log2_intensity") and to_rpm:
        totals = X.sum(axis=1, keepdims=True)
        return X * (1e6 / np.where(totals > 0, totals, 1.0))
    return X


def from_linear(X: np.ndarray, input_scale: str) -> np.ndarray:
    """Linear values (from :func:`to_linear`) on a model's input scale.

    A model trained on counts takes counts or RPM alike: its first step rescales every sample to
    RPM over the model's own features, which cancels any per-sample factor.
    """
    if input_scale == "log2_intensity":
        return np.log2(np.maximum(X, np.finfo(np.float64).tiny))
    return np.log2(X + 1.0) if input_scale == "log2_rpm" else X


#: Per-feature scaling at the end of the chain: z-scores, centring only (keeps log2 differences),
#: or quantile normalization within each sample and then centring.
SCALINGS = ("standard", "center", "quantile")


def make_preprocessor(input_scale: str = "counts", min_share: float = 0.01, scaling: str = "center") -> Pipeline:
    """The default preprocessing chain for one input scale.

    Parameters
    ----------
    input_scale
        ``counts``: RPM, then log2(x+1). ``rpm``: already per-million, so only log2(x+1).
        ``log2_rpm``: already log-scaled, so neither. ``intensity`` (a linear array or assay
        signal): log2(x+1) only; ``log2_intensity``: neither. Must be stated, never guessed.
    min_share
        Detection filter: keep features with a value above zero (counts/rpm) or above
        log2(1) = 0 (log scale) in at least this share of training samples.
    scaling
        ``center``: centre each feature on the training samples, keeping its log2 spread, so that
        rarely detected, noisy sRNAs weigh less (it beat z-scores on the real benchmark rows).
        ``standard``: centre and scale to unit variance (z-scores). ``quantile``: quantile-normalize
        each sample to the training samples' mean distribution (:class:`QuantileNormalizer`), then
        centre; what classifiers use by default (:data:`srna_nb.models.DEFAULT_SCALING`), because
        it carries over to other pipelines best (``benchmarks/real_data.py``, docs/design.md).
        Either way a feature's training mean is 0 at the classifier's input.
    """
    if input_scale not in INPUT_SCALES:
        raise SrnaParameterError(f"input_scale must be one of {INPUT_SCALES}, got {input_scale!r}")
    if scaling not in SCALINGS:
        raise SrnaParameterError(f"scaling must be one of {', '.join(SCALINGS)}, got {scaling!r}")
    steps = []
    if input_scale == "counts":
        steps.append(("rpm", LibrarySizeNormalizer()))
    if input_scale in ("counts", "rpm", "intensity"):
        steps.append(("log2", Log2p()))
    steps.append(("detected", DetectionFilter(min_share=min_share)))
    if scaling == "quantile":
        steps.append(("quantiles", QuantileNormalizer()))
    # In place: its input is always the detection filter's output, a fresh array, so a copy
    # would only add one more matrix to the peak.
    steps.append(("scale", StandardScaler(copy=False, with_std=scaling == "standard")))
    # Unmeasured (NaN) becomes the training mean, 0 after centring: see the module docstring.
    steps.append(("fill", SimpleImputer(strategy="constant", fill_value=0.0, keep_empty_features=True, copy=False)))
    return Pipeline(steps)
