"""A new matrix as a bundle's classifier reads it: features aligned by what they count, values on the
bundle's scale, the bundle's preprocessing and imputation, calibrated probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.pipeline import Pipeline

from srna_nb.atlas import SIGNAL_KINDS, Atlas
from srna_nb.errors import SrnaInputError, SrnaParameterError

#: Default minimum share of a bundle's features a matrix must hold (below: refused as a wrong file
#: or species). Partial matrices above it are annotated, with ``low_coverage`` where too little of
#: the model's importance is covered (the bundle's ``min_coverage``).
MIN_OVERLAP = 0.1
#: How features missing from a new matrix are filled in (see :func:`model_inputs`).
IMPUTATIONS = ("mean", "zero")
#: A class bundle's imputation by model (others: ``mean``). The training mean is neutral for a
#: weighted sum (linear, DL) but, for a tree, a value between the classes' clusters that sends a
#: sample down one arbitrary side; ``zero`` (not detected) is a value every tree has split on.
#: Measured leave-one-atlas-out (docs/design.md, "Missing features and the forest").
DEFAULT_IMPUTATION = {"rf": "zero"}


@dataclass
class FeatureOverlap:
    """How the bundle's features were found in a new matrix (matched by harmonized miRNA identity)."""

    expected: int
    present: int
    partial: int
    missing: list[str]
    extra: list[str]
    importance_share: float = 1.0
    imputation: str = "zero"

    @property
    def share(self) -> float:
        return self.present / self.expected if self.expected else 0.0

    def describe(self) -> str:
        filled = "the training mean" if self.imputation == "mean" else "0 (not detected)"
        return (f"{self.present} of the bundle's {self.expected} sRNAs found ({self.share:.1%}"
                f"{f', {self.partial} of them only in part' if self.partial else ''}), carrying "
                f"{self.importance_share:.1%} of the model's input importance; {len(self.missing)} missing, "
                f"filled with {filled}; {len(self.extra)} sRNAs of the input that the bundle does not use were left out")


def align_features(atlas: Atlas, features: list[str], min_overlap: float = MIN_OVERLAP, input_scale: str | None = None,
                   importance=None, imputation: str = "zero") -> tuple[np.ndarray, FeatureOverlap]:
    """The atlas' values in the bundle's feature order and on the bundle's input scale.

    Features are matched by what they count (:func:`srna_nb.names.feature_matrix`): old and new
    names of one miRNA match, and a merged feature of the bundle (``a/b``) is the sum of the
    input's ``a`` and ``b``. Values are converted to ``input_scale`` (default: the atlas' own):
    any of counts, RPM and log2-RPM converts to any other. Missing features are 0 here (the value
    of an undetected sRNA on every scale); :func:`model_inputs` applies the bundle's imputation.
    """
    from srna_nb.names import feature_matrix
    from srna_nb.preprocessing import from_linear, to_linear

    input_scale = input_scale or atlas.value_kind
    weights, coverage = feature_matrix(features, list(map(str, atlas.features.index)))
    found = coverage > 0
    used = np.asarray(weights.sum(axis=1)).ravel() > 0
    importance = np.ones(len(features)) if importance is None else np.asarray(importance, dtype=np.float64)
    overlap = FeatureOverlap(
        expected=len(features), present=int(found.sum()), partial=int(((coverage > 0) & (coverage < 1)).sum()),
        missing=[f for f, ok in zip(features, found) if not ok],
        extra=[name for name, use in zip(map(str, atlas.features.index), used) if not use],
        importance_share=float(importance[found].sum() / importance.sum()) if importance.sum() > 0 else float(found.mean()),
        imputation=imputation,
    )
    if overlap.share < min_overlap:
        why = ("the matrix counts hairpins, which a bundle of mature miRNAs cannot split into arms; use a bundle "
               "trained at the hairpin-family level" if atlas.provenance.get("feature_level") == "hairpin"
               else "different annotation or species?")
        raise SrnaInputError(
            f"{atlas.source}: only {overlap.present} of the bundle's {overlap.expected} sRNAs ({overlap.share:.1%}) are in "
            f"the matrix, below the minimum overlap of {min_overlap:.0%} ({why})"
        )
    linear = to_linear(atlas.counts, atlas.value_kind, to_rpm=input_scale != "counts")
    X = from_linear(np.asarray(linear[:, used] @ weights[used]), input_scale).astype(np.float32)
    return X, overlap


def model_inputs(bundle, X: np.ndarray, overlap: FeatureOverlap) -> np.ndarray:
    """The classifier's inputs for aligned values: preprocessing, then the bundle's imputation.

    ``mean`` imputation sets a missing feature to its training mean at the classifier's input
    (0 after centring or standardization), so it pulls no class either way; ``zero`` leaves it "not detected".
    """
    preprocess = bundle.pipeline[0]
    fills = isinstance(preprocess, Pipeline) and "fill" in preprocess.named_steps
    if fills and overlap.imputation == "mean" and overlap.missing:
        # The preprocessor passes unmeasured (NaN) sRNAs through its steps and fills them last.
        missing = set(overlap.missing)
        X = np.array(X, dtype=np.float32)
        X[:, [position for position, feature in enumerate(bundle.features) if feature in missing]] = np.nan
    Z = np.array(bundle.pipeline[:-1].transform(X), dtype=np.float32)
    if overlap.imputation == "mean" and overlap.missing and not fills:
        # Bundles saved before the fill step: zero the missing columns at the classifier's input.
        if preprocess.steps[-1][0] != "scale":
            raise SrnaInputError("mean imputation needs a centring preprocessor (its last step named scale)")
        kept = np.flatnonzero(preprocess.named_steps["detected"].support_)
        missing = set(overlap.missing)
        columns = [position for position, feature in enumerate(np.asarray(bundle.features, dtype=object)[kept]) if feature in missing]
        Z[:, columns] = 0.0
    return Z


def bundle_inputs(bundle, atlas: Atlas, min_overlap: float = MIN_OVERLAP, imputation: str | None = None):
    """Aligned values, classifier inputs and overlap of ``atlas`` for ``bundle``."""
    imputation = imputation or bundle.imputation
    if imputation not in IMPUTATIONS:
        raise SrnaParameterError(f"imputation must be one of {', '.join(IMPUTATIONS)}, got {imputation!r}")
    _check_scales_meet(bundle, atlas)
    X, overlap = align_features(atlas, bundle.features, min_overlap, bundle.input_scale, bundle.feature_importance, imputation)
    return X, model_inputs(bundle, X, overlap), overlap


def _check_scales_meet(bundle, atlas: Atlas) -> None:
    """An array signal and a sequencing count share nothing but the order of sRNAs within a sample,
    so one is read as the other only by a bundle whose inputs are quantile-normalized (per-sample ranks)."""
    if (atlas.value_kind in SIGNAL_KINDS) == (bundle.input_scale in SIGNAL_KINDS):
        return
    preprocess = bundle.pipeline[0]
    if isinstance(preprocess, Pipeline) and "quantiles" in preprocess.named_steps:
        return
    raise SrnaInputError(
        f"{atlas.source}: {atlas.value_kind} values cannot be put on this bundle's {bundle.input_scale} scale: "
        f"its inputs are not quantile-normalized, so only the within-sample order would carry over; "
        f"use a bundle trained with quantile scaling (the shipped models are)")


def calibrated_proba(bundle, Z: np.ndarray) -> np.ndarray:
    """Calibrated class probabilities (columns in ``bundle.pipeline.classes_`` order) of classifier inputs."""
    return bundle.calibrator.transform(bundle.pipeline[-1].predict_proba(Z))
