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

from srna_nb.atlas import Atlas
from srna_nb.augment.inputs import MIN_OVERLAP, FeatureOverlap, bundle_inputs, calibrated_proba
from srna_nb.augment.report import conflict_table
from srna_nb.calibration import PROBABILITY_FLOOR, set_members
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.files import write_csv
from srna_nb.logs import logger
from srna_nb.novelty import LEGACY_COMPONENTS

STATUSES = ("confident", "uncertain", "unknown", "low_coverage")
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
        ``mean`` or ``zero`` for missing features (default: the bundle's; see :func:`~srna_nb.augment.inputs.model_inputs`).
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
