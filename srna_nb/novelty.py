"""Is a sample unlike anything the model was trained on? Three model-agnostic novelty scores.

All work on the model's inputs (preprocessed: log2 RPM, centred or standardized) and the class the model
assigned, so they apply to every model type:

- **signature deviation**: the mean squared z-score of the sample on the assigned class'
  signature sRNAs (the ``n_signature`` features that set the class' mean furthest apart from
  every other class' mean), against the class' own training mean and spread. A sample of a tissue
  the model never saw is usually assigned to a related class whose defining sRNAs it lacks.
- **extreme expression**: the mean of the ``n_extreme`` largest excursions beyond the range of
  every class mean, in units of the feature's overall spread. Catches markers that no training
  class expresses.
- **profile mismatch**: one minus the largest Pearson correlation between the sample and any
  class mean over the ``n_profile`` sRNAs that separate the classes best (ANOVA F statistic on
  the training inputs). A correlation ignores a shift or a scale of the whole profile, so it
  survives much of what another quantification pipeline does to every sample, while a tissue the
  model never saw correlates with none of the known ones.
- **neighbour mismatch**: one minus the mean Pearson correlation, over the same sRNAs, between
  the sample and its ``n_neighbours`` most correlated training samples of the class the model
  assigned. A class mean blurs a class that several pipelines or studies make in different
  shapes; the nearest training samples keep them apart.

Bundles use the neighbour mismatch alone (``components``): on held-out real atlases it kept more
never-learnt samples out of ``confident`` than the profile mismatch, and let more known-organ
samples of another pipeline through (docs/design.md). The profile mismatch had replaced the first
two, which flag nearly every sample of another pipeline (per-feature offsets between pipelines
look like novel expression); all remain options. On the simulated atlas a left-out testis escapes
both correlations (its piRNA profile is ovary's, scaled up) and only the older two catch it.

Thresholds are set from the scores of held-out studies (out-of-fold) of known classes, so that a
chosen share of in-distribution samples is flagged; see :func:`srna_nb.augment.train_bundle`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.feature_selection import f_classif
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from srna_nb.errors import SrnaParameterError, validate_params
from srna_nb.targets import class_indices

#: Every score the scorer can compute, in the order of :meth:`NoveltyScorer.score_samples`' columns.
COMPONENTS = ("signature_deviation", "extreme_expression", "profile_mismatch", "neighbour_mismatch")
#: The components bundles saved before ``components`` existed were scored with.
LEGACY_COMPONENTS = ("signature_deviation", "extreme_expression")


class NoveltyScorer(BaseEstimator):
    """Per-class profiles of the training inputs (and, for the neighbour mismatch, the inputs themselves), and the novelty scores against them.

    Parameters
    ----------
    n_signature
        Signature sRNAs per class.
    n_extreme
        Largest excursions averaged by the extreme-expression score.
    sd_floor
        Lower bound of a class' per-feature spread, as a share of the feature's overall spread
        (keeps classes whose training samples all agree from giving infinite z-scores).
    spread_quantile
        Floor on each feature's overall spread at this quantile of all features' spreads (0: no
        floor), so that near-constant features cannot dominate the extreme-expression score. Off by
        default: one measurement so far (docs/design.md).
    components
        Which scores to compute (a subset of :data:`COMPONENTS`, in any order): the columns of
        :meth:`score_samples`, each with its own threshold in a bundle. The neighbour mismatch alone by
        default: on held-out atlases it kept never-learnt samples out best (docs/design.md).
    n_profile
        sRNAs over which the profile and neighbour mismatches correlate (the most class-separating ones).
    n_neighbours
        Training samples of the assigned class the neighbour mismatch averages over (all of the
        class when it has fewer).
    """

    _parameter_constraints: dict = {
        "n_signature": [Interval(Integral, 1, None, closed="left")],
        "n_extreme": [Interval(Integral, 1, None, closed="left")],
        "sd_floor": [Interval(Real, 0, None, closed="left")],
        "spread_quantile": [Interval(Real, 0, 1, closed="both")],
        "components": [tuple, list],
        "n_profile": [Interval(Integral, 2, None, closed="left")],
        "n_neighbours": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_signature: int = 20, n_extreme: int = 5, sd_floor: float = 0.1, spread_quantile: float = 0.0,
                 components: tuple[str, ...] = ("neighbour_mismatch",), n_profile: int = 800, n_neighbours: int = 5):
        self.n_signature = n_signature
        self.n_extreme = n_extreme
        self.sd_floor = sd_floor
        self.spread_quantile = spread_quantile
        self.components = components
        self.n_profile = n_profile
        self.n_neighbours = n_neighbours

    def fit(self, X: np.ndarray, y: np.ndarray):
        validate_params(self)
        unknown = sorted(set(self.components) - set(COMPONENTS))
        if unknown or not len(self.components):
            raise SrnaParameterError(f"NoveltyScorer: components must be among {', '.join(COMPONENTS)}, got {list(self.components)!r}")
        X, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_ = np.unique(y)
        frame = pd.DataFrame(X)
        self.means_ = frame.groupby(y).mean().loc[self.classes_].to_numpy()
        spread = X.std(axis=0) + 1e-6
        spread = np.maximum(spread, np.quantile(spread, self.spread_quantile))
        self.spread_ = spread
        class_sd = frame.groupby(y).std(ddof=0).loc[self.classes_].to_numpy()
        self.sds_ = np.maximum(class_sd, self.sd_floor * spread)
        n_signature = min(self.n_signature, X.shape[1])
        signatures = []
        for k in range(len(self.classes_)):
            others = np.delete(self.means_, k, axis=0)
            gap = np.min(np.abs(self.means_[k] - others), axis=0) / spread if len(others) else np.zeros(X.shape[1])
            signatures.append(np.argsort(gap, kind="stable")[-n_signature:])
        self.signatures_ = np.array(signatures)
        self.upper_ = self.means_.max(axis=0)
        self.lower_ = self.means_.min(axis=0)
        separation = np.nan_to_num(f_classif(X, y)[0]) if len(self.classes_) > 1 else X.std(axis=0)
        self.profile_features_ = np.sort(np.argsort(-separation, kind="stable")[: min(self.n_profile, X.shape[1])])
        if "neighbour_mismatch" in self.components:
            # Only this score needs the training samples themselves (float32: half the size of float64).
            self.references_ = _centred_unit_rows(X[:, self.profile_features_]).astype(np.float32)
            self.reference_classes_ = class_indices(self, y)
        return self

    @property
    def components_(self) -> tuple[str, ...]:
        """The scores :meth:`score_samples` returns, in column order (bundles older than ``components``: the first two)."""
        return tuple(getattr(self, "components", LEGACY_COMPONENTS))

    def score_samples(self, X: np.ndarray, assigned: np.ndarray | None = None) -> np.ndarray:
        """Scores (n_samples, one column per component), larger = more novel.

        ``assigned``: the class the model gave each sample; by default the class whose mean is nearest.
        """
        check_is_fitted(self, "means_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if assigned is None:
            # |x - m|^2 up to the per-sample |x|^2, without a samples x classes x features array
            k = np.argmin((self.means_**2).sum(axis=1)[None, :] - 2 * X @ self.means_.T, axis=1)
        else:
            k = class_indices(self, assigned)
        scores = {"signature_deviation": self._signature_deviation, "extreme_expression": self._extreme_expression,
                  "profile_mismatch": self._profile_mismatch, "neighbour_mismatch": self._neighbour_mismatch}
        return np.column_stack([scores[name](X, k) for name in self.components_])

    def _signature_deviation(self, X: np.ndarray, k: np.ndarray) -> np.ndarray:
        columns = self.signatures_[k]
        rows = np.arange(len(X))[:, None]
        z = (X[rows, columns] - self.means_[k[:, None], columns]) / self.sds_[k[:, None], columns]
        return np.mean(z**2, axis=1)

    def _extreme_expression(self, X: np.ndarray, k: np.ndarray) -> np.ndarray:
        excursion = np.maximum(X - self.upper_, self.lower_ - X).clip(min=0) / self.spread_
        n_extreme = min(self.n_extreme, X.shape[1])
        return np.sort(excursion, axis=1)[:, -n_extreme:].mean(axis=1)

    def _profile_mismatch(self, X: np.ndarray, k: np.ndarray) -> np.ndarray:
        features = getattr(self, "profile_features_", None)
        if features is None:
            raise SrnaParameterError("this novelty scorer was fitted before profile_mismatch existed; retrain the bundle to use it")
        return 1.0 - _row_correlations(X[:, features], self.means_[:, features]).max(axis=1)


    def _neighbour_mismatch(self, X: np.ndarray, k: np.ndarray) -> np.ndarray:
        if not hasattr(self, "references_"):
            raise SrnaParameterError("this novelty scorer was fitted without neighbour_mismatch among its components")
        scores = np.empty(len(X))
        samples = _centred_unit_rows(X[:, self.profile_features_])
        for c in np.unique(k):
            rows = k == c
            references = self.references_[self.reference_classes_ == c]
            correlations = samples[rows] @ references.T.astype(np.float64)
            n = min(self.n_neighbours, len(references))
            scores[rows] = 1.0 - np.sort(correlations, axis=1)[:, -n:].mean(axis=1)
        return scores


def _centred_unit_rows(A: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length (a constant row stays 0), so that dot products are correlations."""
    A = A - A.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(A, axis=1, keepdims=True)
    return np.divide(A, norms, out=np.zeros(A.shape), where=norms > 0)


def _row_correlations(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row of ``A`` with every row of ``B`` (0 for a constant row)."""
    A = A - A.mean(axis=1, keepdims=True)
    B = B - B.mean(axis=1, keepdims=True)
    norms = np.outer(np.linalg.norm(A, axis=1), np.linalg.norm(B, axis=1))
    return np.divide(A @ B.T, norms, out=np.zeros(norms.shape), where=norms > 0)
