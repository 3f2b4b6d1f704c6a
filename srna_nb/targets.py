"""Label definitions: which sample-sheet columns can be predicted, and how age becomes classes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaParameterError
from srna_nb.logs import logger

#: Default age bins in years, left-closed: [0, 18), [18, 40), [40, 65), [65, inf).
#: Child, young adult, middle-aged, older adult: the study did not publish its bins; these are
#: the usual epidemiological cut points and give classes of workable size in SEA-like atlases.
DEFAULT_AGE_BINS: tuple[float, ...] = (0, 18, 40, 65, np.inf)

#: The targets the package knows by name; any other sample-sheet column may be named too.
STANDARD_TARGETS = ("tissue", "tissue_group", "sex", "age_group")


def age_bin_labels(bins: Sequence[float] = DEFAULT_AGE_BINS) -> list[str]:
    """Readable labels for age bins: ``0-17``, ``18-39``, ``40-64``, ``65+`` for the defaults."""
    _check_bins(bins)
    labels = []
    for low, high in zip(bins[:-1], bins[1:]):
        labels.append(f"{low:g}+" if np.isinf(high) else f"{low:g}-{high - 1:g}")
    return labels


def age_groups(ages: pd.Series | np.ndarray, bins: Sequence[float] = DEFAULT_AGE_BINS) -> pd.Series:
    """Bin ages in years into age-group labels; missing or out-of-range ages stay missing."""
    _check_bins(bins)
    ages = pd.Series(ages, dtype="float64")
    groups = pd.cut(ages, bins=list(bins), right=False, labels=age_bin_labels(bins))
    return pd.Series(groups.astype(object), index=ages.index, name="age_group").where(groups.notna(), np.nan)


def _check_bins(bins: Sequence[float]) -> None:
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 3 or not np.all(np.diff(edges) > 0):
        raise SrnaParameterError(
            f"age bins must be at least three increasing edges (two classes), got {list(bins)}"
        )


@dataclass(frozen=True)
class TargetSamples:
    """The labelled samples of one target, ready for scikit-learn: what class and numeric targets share.

    :class:`TargetData` (classes) and :class:`~srna_nb.regression.NumericTarget` (numbers) build on it.
    """

    target: str
    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray | None
    sample_ids: pd.Index
    feature_names: pd.Index


@dataclass(frozen=True)
class TargetData(TargetSamples):
    """The samples usable for one prediction target, ready for scikit-learn.

    Attributes
    ----------
    target
        Sample-sheet column predicted.
    X
        Expression rows of the kept samples (the atlas' values, not yet preprocessed).
    y
        Labels (object array of strings).
    groups
        Study of each kept sample (None when the atlas names no study column).
    sample_ids
        Ids of the kept samples, aligned with ``X`` and ``y``.
    feature_names
        Column names of ``X``.
    dropped
        Table of what was left out and why: ``label``, ``samples``, ``studies``, ``reason``.
    """

    dropped: pd.DataFrame

    @property
    def classes(self) -> list[str]:
        return sorted(set(self.y))

    def class_table(self) -> pd.DataFrame:
        """Samples and studies per kept class."""
        frame = pd.DataFrame({"label": self.y, "study": self.groups if self.groups is not None else np.nan})
        return frame.groupby("label").agg(samples=("label", "size"), studies=("study", "nunique")).sort_values("samples", ascending=False)


@dataclass(frozen=True)
class TargetSelection:
    """Which labelled samples and classes a target is learned from: the settings that travel together.

    Parameters
    ----------
    target
        ``tissue``, ``tissue_group``, ``sex``, ``age_group`` or any other sample-sheet column.
    min_class_size
        Classes with fewer labelled samples are dropped.
    min_studies
        Classes present in fewer studies are dropped (2 for held-out-study evaluation: a class
        seen in one study cannot be tested on a study the model has not seen).
    age_bins
        Edges for ``age_group`` from an ``age`` column (default :data:`DEFAULT_AGE_BINS`).
    where
        Keep only samples whose column has one of the values, e.g. ``{"sample_category": ["tissue"]}``.
    min_atlases
        In atlases joined by :func:`~srna_nb.atlas.concat_atlases` (an ``atlas`` column), classes
        present in fewer atlases are dropped: a class only one pipeline measured cannot be told apart
        from that pipeline.

    Examples
    --------
    >>> selection = TargetSelection("organ", min_studies=2, where={"sample_category": ["tissue"]})
    >>> data = selection.prepare(atlas)  # doctest: +SKIP
    >>> selection.with_target("sex")  # same filters, another column  # doctest: +SKIP
    """

    target: str
    min_class_size: int = 10
    min_studies: int = 1
    age_bins: tuple[float, ...] | None = None
    where: Mapping[str, str | Sequence[str]] | None = None
    min_atlases: int = 1

    def __post_init__(self) -> None:
        if self.age_bins is not None:  # lists from YAML become tuples: hashable, like the rest
            object.__setattr__(self, "age_bins", tuple(self.age_bins))

    def prepare(self, atlas: Atlas) -> "TargetData":
        """The usable samples of ``atlas`` (see :func:`prepare_target`)."""
        return prepare_target(atlas, self.target, min_class_size=self.min_class_size, min_studies=self.min_studies,
                              age_bins=self.age_bins, where=self.where, min_atlases=self.min_atlases)

    def with_target(self, target: str) -> "TargetSelection":
        """The same filters for another column."""
        return replace(self, target=target)

    @classmethod
    def of(cls, target: "str | TargetSelection", **defaults) -> "TargetSelection":
        """``target`` as given when it is a selection, else a selection of that column with ``defaults``."""
        return target if isinstance(target, TargetSelection) else cls(str(target), **defaults)


def prepare_target(
    atlas: Atlas,
    target: str,
    *,
    min_class_size: int = 10,
    min_studies: int = 1,
    age_bins: Sequence[float] | None = None,
    where: Mapping[str, str | Sequence[str]] | None = None,
    min_atlases: int = 1,
) -> TargetData:
    """Select the labelled samples and classes that can be learned and evaluated for ``target``.

    Parameters
    ----------
    atlas
        The data.
    target
        ``tissue``, ``tissue_group``, ``sex``, ``age_group`` or any other sample-sheet column.
        ``age_group`` is derived from an ``age`` column (years) with ``age_bins`` when given
        or when the sheet has no ``age_group`` column.
    min_class_size
        Classes with fewer labelled samples are dropped.
    min_studies
        Classes present in fewer studies are dropped (use 2 for held-out-study evaluation:
        a class seen in one study only cannot be tested on a study the model has not seen).
    where
        Keep only samples whose column equals one of the given values, e.g.
        ``{"sample_category": "tissue"}``.
    min_atlases
        Classes present in fewer atlases (the ``atlas`` column of joined atlases) are dropped.
    """
    if min_class_size < 1 or min_studies < 1:
        raise SrnaParameterError(f"min_class_size and min_studies must be at least 1, got {min_class_size}, {min_studies}")
    labels = _target_labels(atlas, target, age_bins)
    keep = labels.notna().to_numpy().copy()
    dropped = [("(no label)", int((~keep).sum()), np.nan, "label missing: left for augmentation")]
    for column, allowed in (where or {}).items():
        allowed = [allowed] if isinstance(allowed, str) else list(allowed)
        inside = atlas.matching({column: allowed})
        dropped.append((f"({column} not in {allowed})", int((keep & ~inside).sum()), np.nan, "excluded by 'where'"))
        keep &= inside
    if min_studies > 1 and atlas.study_column not in atlas.samples.columns:
        raise SrnaParameterError(
            f"held-out-study evaluation needs a study column; {atlas.study_column!r} is not in the sample sheet "
            f"(columns: {', '.join(map(str, atlas.samples.columns))})"
        )
    studies = atlas.studies if atlas.study_column in atlas.samples.columns else None
    if min_atlases > 1 and "atlas" not in atlas.samples.columns:
        raise SrnaParameterError("min_atlases needs atlases joined by concat_atlases (an 'atlas' column in the sample sheet)")
    frame = pd.DataFrame({"label": labels[keep], "study": studies[keep] if studies is not None else np.nan,
                          "atlas": atlas.labels("atlas")[keep] if min_atlases > 1 else np.nan})
    per_class = frame.groupby("label").agg(samples=("label", "size"), studies=("study", "nunique"), atlases=("atlas", "nunique"))
    too_small = per_class["samples"] < min_class_size
    too_few_studies = (per_class["studies"] < min_studies) & (min_studies > 1)
    too_few_atlases = (per_class["atlases"] < min_atlases) & (min_atlases > 1)
    for label, row in per_class[too_small | too_few_studies | too_few_atlases].iterrows():
        reason = (f"fewer than {min_class_size} samples" if too_small[label] else f"in fewer than {min_studies} studies"
                  if too_few_studies[label] else f"in fewer than {min_atlases} atlases")
        dropped.append((label, int(row["samples"]), int(row["studies"]), reason))
    kept_classes = per_class.index[~(too_small | too_few_studies | too_few_atlases)]
    if len(kept_classes) < 2:
        raise SrnaParameterError(
            f"target {target!r} has {len(kept_classes)} class(es) with at least {min_class_size} samples"
            f"{f' in {min_studies} studies' if min_studies > 1 else ''}; at least two are needed"
        )
    keep &= labels.isin(kept_classes).to_numpy()
    dropped_table = pd.DataFrame(dropped, columns=["label", "samples", "studies", "reason"])
    dropped_table = dropped_table[dropped_table["samples"] > 0].reset_index(drop=True)
    logger.info("%s: %d samples in %d classes kept.", target, int(keep.sum()), len(kept_classes))
    for row in dropped_table.itertuples(index=False):
        logger.info("  dropped %s: %d samples (%s)", row.label, row.samples, row.reason)
    return TargetData(
        target=target,
        X=atlas.counts[keep],
        y=labels[keep].astype(str).to_numpy(dtype=object),
        groups=studies[keep].astype(str).to_numpy(dtype=object) if studies is not None else None,
        sample_ids=atlas.sample_ids[keep],
        feature_names=atlas.feature_names,
        dropped=dropped_table,
    )


#: A column of numbers with at least this many distinct values is a numeric target (fewer: classes, e.g. 0/1 flags).
MIN_DISTINCT_NUMBERS = 10
TARGET_KINDS = ("auto", "class", "number")


def target_kind(atlas: Atlas, target: str, kind: str = "auto") -> str:
    """Whether ``target`` is learned as classes (``"class"``) or as a number (``"number"``).

    ``auto``: a number when every recorded value parses as one and there are at least
    :data:`MIN_DISTINCT_NUMBERS` distinct values (``age`` in years), classes otherwise
    (``tissue``, ``sex``, ``age_group``, a 0/1 flag); ``class`` or ``number`` force the choice.
    """
    if kind not in TARGET_KINDS:
        raise SrnaParameterError(f"kind must be one of {', '.join(TARGET_KINDS)}, got {kind!r}")
    if kind != "auto":
        return kind
    values = _target_labels(atlas, target, None).dropna()
    parsed = pd.to_numeric(values, errors="coerce")
    numeric = len(values) > 0 and parsed.notna().all() and parsed.nunique() >= MIN_DISTINCT_NUMBERS
    return "number" if numeric else "class"


def _target_labels(atlas: Atlas, target: str, age_bins: Sequence[float] | None) -> pd.Series:
    columns = atlas.samples.columns
    if target == "age_group" and "age" in columns and (age_bins is not None or "age_group" not in columns):
        return age_groups(pd.to_numeric(atlas.labels("age"), errors="coerce"), age_bins or DEFAULT_AGE_BINS)
    if target not in columns:
        raise SrnaParameterError(
            f"unknown target {target!r}: not a column of the sample sheet (columns: {', '.join(map(str, columns))})"
        )
    return atlas.labels(target)


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
