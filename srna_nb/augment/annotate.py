"""Apply a bundle: align features, predict with calibrated probabilities, decide a status, flag conflicts.

Status of each sample:

- ``low_coverage``: the new matrix holds too little of what the model relies on (the share of the
  model's input importance carried by features present in the matrix is below
  ``min_coverage``); no label is given;
- ``unknown``: a novelty score is above its threshold (the sample is unlike the training
  samples of the class it was assigned to, or unlike every class: e.g. a tissue the model never
  saw; :mod:`srna_nb.novelty`), whatever the probability says;
- ``confident``: otherwise, when the calibrated probability of the predicted class is at least
  the confidence threshold;
- ``uncertain``: everything else.

With ``consensus``, samples are also judged together by study (:func:`study_consensus`): the
majority label among a study's labelled samples, the share agreeing with it, and a flag for
mixed studies, which a researcher checks before filling one label in for a whole study.

``prediction_set`` lists, most probable first, every class whose calibrated probability reaches
the bundle's set threshold: a conformal set that held the true class for the bundle's nominal
share (90% by default) of samples from held-out studies (``set_size`` counts them). A set of two
related tissues is an honest answer where the single prediction is a guess.

``annotation`` is the value to fill in: the predicted class when confident; for an uncertain fine
label whose coarser group is clear (group probability = sum over its classes, at least the
threshold) the group, with ``annotation_level`` saying which; empty otherwise.

The matrix as a whole is compared with the training data too (:class:`DatasetShift`): when far
more of its samples are ``unknown`` than were among the bundle's held-out studies, it differs
from the training data as a whole (another quantification pipeline, another sample type), and a
warning says so.

A sample that has a label and whose confident prediction disagrees with it is a **conflict**
(candidate mislabel or contamination); ``conflict_evidence`` = log(p(predicted) / p(given label)).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from srna_nb.atlas import SIGNAL_KINDS, Atlas
from srna_nb.augment.report import conflict_table
from srna_nb.calibration import PROBABILITY_FLOOR, set_members
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.files import write_csv
from srna_nb.logs import logger
from srna_nb.novelty import LEGACY_COMPONENTS

STATUSES = ("confident", "uncertain", "unknown", "low_coverage")
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
#: Between the classes of a ``prediction_set``.
SET_SEPARATOR = " | "
#: A matrix is called shifted when its unknown share is at least this many times the bundle's
#: held-out unknown share (at least 1%) and a one-sided binomial test puts it below ``SHIFT_P``.
SHIFT_RATIO = 2.0
SHIFT_P = 1e-3


@dataclass
class DatasetShift:
    """How a new matrix as a whole compares with the bundle's training data, by its ``unknown`` share.

    ``expected_share`` is the share of held-out in-distribution samples (new studies of the
    training atlas) the bundle called unknown; samples with ``low_coverage`` are not counted.
    """

    samples: int
    unknown_share: float
    expected_share: float
    p_value: float

    @property
    def shifted(self) -> bool:
        return bool(self.samples and self.unknown_share >= SHIFT_RATIO * self.expected_share and self.p_value < SHIFT_P)

    def describe(self) -> str:
        verdict = ("the matrix differs from the training data as a whole (another pipeline or sample type?): "
                   "check confident calls against known samples before relying on them" if self.shifted else
                   "no shift detected by sample similarity (per-feature offsets of another pipeline are not tested)")
        return (f"{self.unknown_share:.1%} of {self.samples} samples are unlike the training data, against "
                f"{self.expected_share:.1%} of held-out training studies (binomial p = {self.p_value:.2g}): {verdict}")


def dataset_shift(table: pd.DataFrame, expected_share: float) -> DatasetShift:
    """:class:`DatasetShift` of an annotation table against the held-out unknown share of its bundle."""
    from scipy.stats import binomtest

    counted = table["status"] != "low_coverage"
    unknown = int((table.loc[counted, "status"] == "unknown").sum())
    samples = int(counted.sum())
    expected = max(float(expected_share), 0.01)
    p_value = binomtest(unknown, samples, expected, alternative="greater").pvalue if samples else 1.0
    return DatasetShift(samples, unknown / samples if samples else float("nan"), expected, float(p_value))


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


def label_table(
    sample_ids,
    proba: np.ndarray,
    classes: list[str],
    novelty: np.ndarray,
    novelty_thresholds,
    confidence_threshold: float,
    class_groups: dict[str, str] | None = None,
    novelty_components: Sequence[str] = LEGACY_COMPONENTS,
    set_threshold: float | None = None,
) -> pd.DataFrame:
    """Per sample: prediction, runner-up, status and annotation from calibrated probabilities (see module docstring).

    ``novelty`` holds one column per name of ``novelty_components``, each compared with its threshold.
    With ``set_threshold``, the table gains ``prediction_set`` and ``set_size``.
    """
    if not 0 < confidence_threshold <= 1:
        raise SrnaParameterError(f"confidence threshold must be in (0, 1], got {confidence_threshold}")
    classes = np.asarray(classes, dtype=object)
    order = np.argsort(-proba, axis=1, kind="stable")
    rows = np.arange(len(proba))
    table = pd.DataFrame({"sample_id": np.asarray(sample_ids, dtype=object)})
    table["predicted"] = classes[order[:, 0]]
    table["probability"] = proba[rows, order[:, 0]]
    table["runner_up"] = classes[order[:, 1]] if proba.shape[1] > 1 else None
    table["runner_up_probability"] = proba[rows, order[:, 1]] if proba.shape[1] > 1 else 0.0
    if set_threshold is not None:
        members = set_members(proba, set_threshold)
        table["prediction_set"] = [SET_SEPARATOR.join(classes[o[m[o]]]) for o, m in zip(order, members)]
        table["set_size"] = members.sum(axis=1)
    for column, name in enumerate(novelty_components):
        table[name] = novelty[:, column]
    novel = (novelty > np.asarray(novelty_thresholds)[None, :]).any(axis=1)
    confident = table["probability"].to_numpy() >= confidence_threshold
    table["status"] = np.where(novel, "unknown", np.where(confident, "confident", "uncertain"))
    table["annotation"] = np.where(table["status"] == "confident", table["predicted"], None)
    table["annotation_level"] = np.where(table["status"] == "confident", "class", None)
    if class_groups:
        groups = pd.Series(class_groups).reindex(classes).to_numpy()
        group_names = sorted(set(g for g in groups if isinstance(g, str)))
        group_proba = np.column_stack([proba[:, groups == g].sum(axis=1) for g in group_names])
        best = np.argmax(group_proba, axis=1)
        table["group"] = np.asarray(group_names, dtype=object)[best]
        table["group_probability"] = group_proba[rows, best]
        fallback = (table["status"] == "uncertain") & (table["group_probability"] >= confidence_threshold)
        table.loc[fallback, "annotation"] = table.loc[fallback, "group"]
        table.loc[fallback, "annotation_level"] = "group"
    return table


def set_covers(prediction_sets, truth) -> np.ndarray:
    """Whether each ``prediction_set`` (a table column) holds the true class."""
    return np.array([t in str(s).split(SET_SEPARATOR) for s, t in zip(prediction_sets, truth)], dtype=bool)


def flag_conflicts(table: pd.DataFrame, given: pd.Series, proba: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """Add ``given``, ``conflict`` and ``conflict_evidence`` columns (given aligned with table rows)."""
    table = table.copy()
    given = pd.Series(np.asarray(given, dtype=object), index=table.index)
    table["given"] = given
    position = {c: i for i, c in enumerate(classes)}
    given_index = given.map(position)
    known = given_index.notna().to_numpy()
    p_given = np.full(len(table), np.nan)
    p_given[known] = proba[np.flatnonzero(known), given_index[known].astype(int).to_numpy()]
    # A label the model has no class for counts as p = 0 (it cannot agree with it).
    labelled = given.notna().to_numpy()
    p_given = np.where(labelled & ~known, 0.0, p_given)
    evidence = np.log(table["probability"].to_numpy()) - np.log(np.maximum(p_given, PROBABILITY_FLOOR))
    table["conflict"] = labelled & (table["status"] == "confident").to_numpy() & (table["predicted"] != given).to_numpy()
    table["conflict_evidence"] = np.where(labelled, evidence, np.nan)
    return table


#: Statuses whose prediction counts in a study's vote (``unknown`` and ``low_coverage`` abstain).
VOTING_STATUSES = ("confident", "uncertain")


def study_consensus(table: pd.DataFrame, studies, min_agreement: float = 0.8) -> pd.DataFrame:
    """One row per study: the majority prediction of its samples and how far they agree.

    Parameters
    ----------
    table
        An annotation table (``predicted``, ``probability``, ``status``).
    studies
        The study of each row of ``table``.
    min_agreement
        Below this share of voting samples agreeing with the majority, the study is ``mixed``.

    Returns
    -------
    DataFrame with ``study``, ``samples``, ``voting`` (samples whose status is confident or
    uncertain), ``majority`` (most frequent prediction among them; ties go to the larger summed
    probability), ``agreement`` (share of voting samples predicting it), ``confident share`` and
    ``mixed`` (agreement below ``min_agreement``, or no voting sample).
    """
    if not 0 < min_agreement <= 1:
        raise SrnaParameterError(f"min_agreement must be in (0, 1], got {min_agreement}")
    frame = pd.DataFrame({"study": np.asarray(studies, dtype=object), "predicted": table["predicted"].to_numpy(),
                          "probability": table["probability"].to_numpy(), "status": table["status"].to_numpy()})
    if frame["study"].isna().any():
        raise SrnaInputError(f"{int(frame['study'].isna().sum())} samples have no study; consensus needs one for every sample")
    rows = []
    for study, members in frame.groupby("study", sort=True):
        voting = members[members["status"].isin(VOTING_STATUSES)]
        votes = voting.groupby("predicted").agg(n=("probability", "size"), mass=("probability", "sum"))
        votes = votes.sort_values(["n", "mass"], ascending=False, kind="stable")
        majority = votes.index[0] if len(votes) else None
        agreement = float(votes["n"].iat[0] / len(voting)) if len(votes) else np.nan
        rows.append({"study": study, "samples": len(members), "voting": len(voting), "majority": majority,
                     "agreement": agreement, "confident share": float((members["status"] == "confident").mean()),
                     "mixed": not agreement >= min_agreement})
    return pd.DataFrame(rows)


@dataclass
class Annotation:
    """Result of :func:`annotate`: the sample table, how the features matched, every class' calibrated probability.

    ``consensus`` (from ``annotate(..., consensus=COLUMN)``) holds one row per study, see :func:`study_consensus`;
    ``shift`` compares the matrix as a whole with the training data (:class:`DatasetShift`).
    """

    table: pd.DataFrame
    overlap: FeatureOverlap
    target: str
    probabilities: pd.DataFrame | None = None
    consensus: pd.DataFrame | None = None
    #: The statuses a sample can have: :data:`STATUSES` for classes, ``NUMERIC_STATUSES`` for numbers.
    statuses: tuple[str, ...] = STATUSES
    shift: DatasetShift | None = None

    def status_counts(self) -> pd.DataFrame:
        counts = self.table["status"].value_counts().reindex(list(self.statuses), fill_value=0)
        return pd.DataFrame({"samples": counts, "share": counts / max(len(self.table), 1)})

    def conflicts(self) -> pd.DataFrame:
        """Labelled samples whose confident prediction disagrees with the label, strongest evidence first."""
        return conflict_table(self.table)

    def write(self, path: str | Path) -> Path:
        """CSV of the sample table, written to a temporary file and renamed (never half-written)."""
        return write_csv(self.table, path)




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


def annotate(bundle, atlas: Atlas, *, min_overlap: float = MIN_OVERLAP, confidence_threshold: float | None = None,
             min_coverage: float | None = None, imputation: str | None = None, consensus: str | None = None,
             min_agreement: float = 0.8) -> Annotation:
    """Predict ``bundle.target`` for every sample of ``atlas``, with status, annotation and conflicts.

    A numeric bundle (:class:`~srna_nb.augment.numeric.NumericBundle`) gives each sample a
    value with its interval (``predicted``, ``lower``, ``upper``) and the status ``estimated``,
    ``unknown`` or ``low_coverage``; a recorded value outside its interval is a conflict.

    Parameters
    ----------
    bundle
        From :func:`~srna_nb.augment.train_bundle` or :func:`~srna_nb.augment.load_bundle`.
    atlas
        New samples, on any value scale (converted to the bundle's), names harmonized.
    min_overlap
        Refuse a matrix holding less than this share of the bundle's features.
    confidence_threshold
        Override the bundle's threshold on calibrated probability.
    min_coverage
        Below this share of the model's input importance present in the matrix, every sample
        gets the status ``low_coverage`` and no annotation (default: the bundle's).
    imputation
        ``mean`` or ``zero`` for missing features (default: the bundle's; see :func:`model_inputs`).
    consensus
        A sample-sheet column naming each sample's study: judge the samples of each study
        together (:func:`study_consensus`); the table gains ``study``, ``study_majority``,
        ``study_agreement`` and ``study_mixed``.
    min_agreement
        Agreement below which a study is flagged ``mixed``.
    """
    if consensus is not None and consensus not in atlas.samples.columns:
        raise SrnaParameterError(f"{atlas.source}: no column {consensus!r} in the sample sheet for the study consensus")
    if bundle.kind == "number" and (consensus is not None or confidence_threshold is not None):
        raise SrnaParameterError(f"the bundle predicts a number ({bundle.target}); consensus and confidence thresholds apply to classes")
    _, Z, overlap = bundle_inputs(bundle, atlas, min_overlap, imputation)
    logger.info(overlap.describe())
    min_coverage = bundle.min_coverage if min_coverage is None else min_coverage
    if bundle.kind == "number":
        from srna_nb.augment.numeric import NUMERIC_STATUSES, annotate_numeric

        table = annotate_numeric(bundle, atlas, Z, overlap.importance_share >= min_coverage)
        return Annotation(table, overlap, bundle.target, statuses=NUMERIC_STATUSES, shift=_shift(bundle, table))
    proba = calibrated_proba(bundle, Z)
    classes = list(bundle.pipeline.classes_)
    assigned = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
    novelty = bundle.novelty.score_samples(Z, assigned)
    threshold = bundle.confidence_threshold if confidence_threshold is None else confidence_threshold
    table = label_table(atlas.samples.index, proba, classes, novelty, bundle.novelty_thresholds, threshold, bundle.class_groups,
                        bundle.novelty.components_, bundle.set_threshold)
    if overlap.importance_share < min_coverage:
        table["status"] = "low_coverage"
        table["annotation"] = None
        table["annotation_level"] = None
    if bundle.target in atlas.samples.columns:
        table = flag_conflicts(table, atlas.samples[bundle.target].to_numpy(), proba, classes)
    probabilities = pd.DataFrame(proba, index=pd.Index(atlas.samples.index, name="sample_id"),
                                 columns=pd.Index(classes, name="class"))
    by_study = None
    if consensus is not None:
        studies = atlas.samples[consensus].to_numpy(dtype=object)
        by_study = study_consensus(table, studies, min_agreement)
        per_sample = by_study.set_index("study").loc[studies]
        table["study"] = studies
        table["study_majority"] = per_sample["majority"].to_numpy()
        table["study_agreement"] = per_sample["agreement"].to_numpy()
        table["study_mixed"] = per_sample["mixed"].to_numpy()
    return Annotation(table, overlap, bundle.target, probabilities, by_study, shift=_shift(bundle, table))


def _shift(bundle, table: pd.DataFrame) -> DatasetShift | None:
    if bundle.summary is None or bundle.summary.unknown_share is None:
        return None
    shift = dataset_shift(table, bundle.summary.unknown_share)
    (logger.warning if shift.shifted else logger.info)(shift.describe())
    return shift


def samples_to_annotate(atlas: Atlas, target: str, counts_path=None, samples_path=None, value_kind: str | None = None,
                        **loader_options) -> Atlas:
    """What a report annotates: a matrix from files, or else the atlas' samples that lack a ``target`` label."""
    if counts_path is None:
        if target not in atlas.samples.columns:
            raise SrnaParameterError(f"the atlas has no {target!r} column; give counts_path with the samples to annotate")
        return atlas.subset(samples=atlas.samples[target].isna().to_numpy())
    from srna_nb.io import load_atlas

    return load_atlas(counts_path, samples_path, value_kind=value_kind or atlas.value_kind, **loader_options)
