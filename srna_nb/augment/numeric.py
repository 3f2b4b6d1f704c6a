"""Bundles for numbers (age in years, any numeric column): a value, an interval, and a status.

The numeric counterpart of :func:`~srna_nb.augment.train_bundle`, trained the same way:

1. Cross-fitting over studies (``grouped`` folds; k-fold when the data hold fewer studies than
   folds): every labelled sample is predicted by a model that never saw its study. The absolute
   errors of these predictions give the split-conformal half-width of the interval at the nominal
   ``coverage``; their novelty scores set the thresholds of the ``unknown`` status (so that
   ``unknown_rate`` of held-out samples are flagged); and they give the held-out summary: MAE
   against the floor (predicting the training part's mean), and the coverage actually reached,
   each fold's interval taken from the other folds' errors only.
2. The pipeline and the novelty scorer are then fitted on all labelled samples.

Novelty for a number uses the class machinery of :class:`~srna_nb.novelty.NoveltyScorer` on
groups of similar training profiles (k-means clusters of the model inputs, which in an atlas
mostly follow tissues and studies): a sample is compared with its nearest group. Groups of the
target's values would not do: a tissue the model never saw deviates from every age alike.

Statuses of annotated samples:

- ``low_coverage``: the matrix holds too little of what the model relies on; no value;
- ``unknown``: a novelty score above its threshold (unlike every training sample: another
  tissue, a biofluid, a pipeline far from training); the value is given but not filled in;
- ``estimated``: otherwise; ``annotation`` holds the predicted value, ``lower`` / ``upper`` its
  interval.

A sample whose sheet already has a value outside its interval is a **conflict** (a possible typo,
unit mix-up or swapped sample); ``conflict_evidence`` is the distance to the prediction in
half-widths.

The interval's coverage holds for new studies like the training studies (exchangeable ones).
A training set of one study cannot measure study-to-study shifts, so its intervals are
calibrated on random folds and say so in the summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import mean_absolute_error, median_absolute_error, r2_score
from threadpoolctl import threadpool_limits

from srna_nb.atlas import Atlas
from srna_nb.augment.report import BundleReport, LabelledFigures, default_novelty, package_versions
from srna_nb.augment.reliance import input_reliance
from srna_nb.errors import SrnaParameterError
from srna_nb.models import make_model
from srna_nb.novelty import NoveltyScorer
from srna_nb.parallel import run_jobs
from srna_nb.regression import NumericTarget, calibration_protocol, conformal_half_width, prepare_numeric_target, split_indices

NUMERIC_STATUSES = ("estimated", "unknown", "low_coverage")
#: Groups of training profiles (k-means) that play the classes of the novelty scorer.
NOVELTY_GROUPS = 8


@dataclass
class NumericSummary(LabelledFigures):
    """What a numeric bundle is trained on and how it did on its held-out cross-fitting."""

    data: str
    training_samples: int
    studies: int | None
    value_range: list[float]
    cross_fitting: str
    mae: float
    floor_mae: float
    median_ae: float
    r2: float
    coverage: float
    held_out_coverage: float
    half_width: float
    unknown_share: float
    conflicts: int

    LABELS: ClassVar[dict[str, str]] = {
        "data": "data", "training_samples": "training samples", "studies": "studies", "value_range": "training values (min, max)",
        "cross_fitting": "cross-fitting", "mae": "held-out MAE", "floor_mae": "held-out MAE of the training mean (floor)",
        "median_ae": "held-out median absolute error", "r2": "held-out R2", "coverage": "nominal interval coverage",
        "held_out_coverage": "held-out interval coverage", "half_width": "interval half-width",
        "unknown_share": "held-out unknown share", "conflicts": "training values outside their interval",
    }


@dataclass
class NumericBundle(BundleReport):
    """A trained predictor of one numeric column with a conformal interval and abstention (see module docstring)."""

    target: str
    model_name: str
    pipeline: Any
    features: list[str]
    input_scale: str
    coverage: float
    half_width: float
    novelty: NoveltyScorer
    novelty_thresholds: list[float]
    out_of_fold: pd.DataFrame
    summary: NumericSummary | None = None
    versions: dict[str, str] = field(default_factory=dict)
    seed: int = 0
    feature_importance: list[float] | None = None
    imputation: str = "mean"
    min_coverage: float = 0.5

    kind: ClassVar[str] = "number"

    def _settings(self) -> dict[str, Any]:
        return {"target": self.target, "model": self.model_name, "features": len(self.features), "input scale": self.input_scale,
                "missing features filled with": self.imputation, "minimum importance coverage": self.min_coverage}


def fit_group_novelty(novelty: NoveltyScorer, Z: np.ndarray, seed: int) -> NoveltyScorer:
    """A novelty scorer fitted on groups of similar training profiles (k-means of the model inputs)."""
    from sklearn.cluster import KMeans

    n_groups = max(2, min(NOVELTY_GROUPS, len(Z) // 10))
    groups = KMeans(n_clusters=n_groups, n_init=4, random_state=seed).fit_predict(Z)
    return clone(novelty).fit(Z, np.array([f"group {g + 1}" for g in groups], dtype=object))


def train_numeric_bundle(
    atlas: Atlas,
    target: str,
    model: str = "linear",
    params: dict | None = None,
    *,
    where=None,
    n_splits: int = 5,
    coverage: float = 0.9,
    unknown_rate: float = 0.05,
    min_share: float = 0.01,
    imputation: str = "mean",
    min_coverage: float = 0.5,
    novelty: NoveltyScorer | None = None,
    seed: int = 0,
) -> NumericBundle:
    """Fit a regressor for the numeric column ``target`` on all samples that have a value.

    Parameters
    ----------
    atlas
        Training data; ``target`` must hold numbers (anything else is refused in one line).
    target, where
        The column, and an optional sample filter (``{"sample_category": ["tissue"]}``).
    model, params
        Regressor name (``dl``, ``rf``, ``linear``: :data:`srna_nb.models.REGRESSORS`) and hyperparameters.
    n_splits
        Folds of the cross-fitting (over studies when there are at least as many).
    coverage
        Nominal coverage of the interval (0.9: nine in ten new values inside it).
    unknown_rate, min_share, imputation, min_coverage, novelty, seed
        As for :func:`~srna_nb.augment.train_bundle`.
    """

    if not 0 < coverage < 1:
        raise SrnaParameterError(f"coverage must be between 0 and 1, got {coverage}")
    if not 0 < unknown_rate < 1:
        raise SrnaParameterError(f"unknown_rate must be between 0 and 1, got {unknown_rate}")
    data = prepare_numeric_target(atlas, target, where=where)
    pipeline = make_model(model, params, regression=True, input_scale=atlas.value_kind, min_share=min_share, seed=seed)
    novelty = default_novelty("number") if novelty is None else novelty
    protocol = calibration_protocol(data.groups, n_splits)
    crossed = _cross_fit(data, pipeline, novelty, protocol, n_splits, seed)
    residuals = data.y - crossed["predicted"]
    half_width = conformal_half_width(residuals, coverage)
    inside = np.zeros(len(data.y), dtype=bool)
    for fold in np.unique(crossed["fold"]):  # each fold's interval from the other folds' errors: honest coverage
        mine = crossed["fold"] == fold
        inside[mine] = np.abs(residuals[mine]) <= conformal_half_width(residuals[~mine], coverage)
    thresholds = np.quantile(crossed["novelty"], 1 - unknown_rate / len(novelty.components_), axis=0)

    out_of_fold = value_table(data.sample_ids, crossed["predicted"], half_width, crossed["novelty"], thresholds,
                              novelty.components_)
    out_of_fold.insert(1, "study", data.groups if data.groups is not None else None)
    out_of_fold.insert(2, "fold", crossed["fold"])
    out_of_fold = flag_value_conflicts(out_of_fold, data.y, half_width)

    final = clone(pipeline).fit(data.X, data.y)
    scorer = fit_group_novelty(novelty, final[:-1].transform(data.X), seed)
    summary = NumericSummary(
        data=atlas.source + (" (simulated)" if atlas.simulated else ""), training_samples=int(len(data.y)),
        studies=int(len(set(data.groups))) if data.groups is not None else None,
        value_range=[float(data.y.min()), float(data.y.max())],
        cross_fitting=f"{protocol} {n_splits} folds (interval, thresholds, held-out figures)"
                      + ("" if protocol == "grouped" else f": fewer than {n_splits} studies, so the interval has not seen a new study"),
        mae=float(mean_absolute_error(data.y, crossed["predicted"])), floor_mae=float(mean_absolute_error(data.y, crossed["floor"])),
        median_ae=float(median_absolute_error(data.y, crossed["predicted"])), r2=float(r2_score(data.y, crossed["predicted"])),
        coverage=float(coverage), held_out_coverage=float(inside.mean()), half_width=float(half_width),
        unknown_share=float((out_of_fold["status"] == "unknown").mean()), conflicts=int(out_of_fold["conflict"].sum()),
    )
    return NumericBundle(
        target=target, model_name=model, pipeline=final, features=list(map(str, data.feature_names)), input_scale=atlas.value_kind,
        coverage=float(coverage), half_width=float(half_width), novelty=scorer,
        novelty_thresholds=[float(t) for t in thresholds], out_of_fold=out_of_fold, summary=summary,
        versions=package_versions(), seed=seed,
        feature_importance=[float(v) for v in input_reliance(final, data.X)],
        imputation=imputation, min_coverage=min_coverage,
    )


def _cross_fit(data: NumericTarget, pipeline, novelty: NoveltyScorer, protocol: str, n_splits: int, seed: int) -> dict:
    folds = split_indices(data, protocol, n_splits, seed)
    outcomes = run_jobs(_fold_job, [(pipeline, novelty, data.X, data.y, train, test, seed) for train, test in folds])
    predicted, floor = np.empty(len(data.y)), np.empty(len(data.y))
    scores = np.empty((len(data.y), len(novelty.components_)))
    fold_of = np.empty(len(data.y), dtype=int)
    for fold, ((train, test), (values, novel)) in enumerate(zip(folds, outcomes)):
        predicted[test], scores[test], fold_of[test] = values, novel, fold
        floor[test] = data.y[train].mean()
    return {"predicted": predicted, "floor": floor, "novelty": scores, "fold": fold_of}


def _fold_job(pipeline, novelty, X, y, train, test, seed):
    with threadpool_limits(limits=1, user_api="blas"):  # same sums in every run and on every backend
        fitted = clone(pipeline).fit(X[train], y[train])
        scorer = fit_group_novelty(novelty, fitted[:-1].transform(X[train]), seed)
        Z = fitted[:-1].transform(X[test])
        return fitted[-1].predict(Z), scorer.score_samples(Z)


def value_table(sample_ids, predicted: np.ndarray, half_width: float, novelty: np.ndarray, thresholds,
                components) -> pd.DataFrame:
    """Per sample: predicted value, interval, novelty scores, status and annotation (see module docstring)."""
    table = pd.DataFrame({"sample_id": np.asarray(sample_ids, dtype=object), "predicted": predicted,
                          "lower": predicted - half_width, "upper": predicted + half_width})
    for column, name in enumerate(components):
        table[name] = novelty[:, column]
    novel = (novelty > np.asarray(thresholds)[None, :]).any(axis=1)
    table["status"] = np.where(novel, "unknown", "estimated")
    table["annotation"] = np.where(novel, np.nan, predicted)
    return table


def flag_value_conflicts(table: pd.DataFrame, given, half_width: float) -> pd.DataFrame:
    """Add ``given``, ``error``, ``conflict`` (an estimated sample's value outside its interval) and ``conflict_evidence``."""
    table = table.copy()
    given = pd.to_numeric(pd.Series(np.asarray(given, dtype=object), index=table.index), errors="coerce")
    table["given"] = given
    table["error"] = table["predicted"] - given
    outside = (given < table["lower"]) | (given > table["upper"])
    table["conflict"] = (outside & given.notna() & (table["status"] == "estimated")).to_numpy()
    table["conflict_evidence"] = (table["error"].abs() / half_width) if half_width > 0 else np.inf
    return table


def annotate_numeric(bundle: NumericBundle, atlas: Atlas, X_model: np.ndarray, coverage_ok: bool) -> pd.DataFrame:
    """The annotation table of a numeric bundle for classifier inputs ``X_model`` (see :func:`~srna_nb.augment.annotate`)."""
    predicted = bundle.pipeline[-1].predict(X_model)
    novelty = bundle.novelty.score_samples(X_model)  # against the nearest group of training profiles
    table = value_table(atlas.samples.index, predicted, bundle.half_width, novelty, bundle.novelty_thresholds,
                        bundle.novelty.components_)
    if not coverage_ok:
        table["status"] = "low_coverage"
        table["annotation"] = np.nan
    if bundle.target in atlas.samples.columns:
        table = flag_value_conflicts(table, atlas.samples[bundle.target].to_numpy(), bundle.half_width)
    return table
