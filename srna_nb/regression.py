"""Numeric targets (age in years, any numeric column): regressors evaluated like the classifiers,
with prediction intervals whose coverage can be checked.

- :func:`prepare_numeric_target` picks the labelled samples of a numeric sample-sheet column and
  refuses values that are not numbers in one line (column and an example row).
- :func:`evaluate_regression` runs the same protocols as :func:`srna_nb.evaluation.evaluate`
  (``kfold``, ``grouped`` over studies, ``leave_one_study_out``) for every model and for the
  floor every model must beat, predicting the training mean.
- Intervals are split-conformal, calibrated on study-held-out folds inside each training part:
  the absolute errors of out-of-fold predictions on the training studies give the half-width at
  the nominal coverage, which then surrounds the prediction of the model fitted on all training
  rows. Nothing from the test fold reaches the interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import pearsonr
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.metrics import mean_absolute_error, median_absolute_error, r2_score
from sklearn.model_selection import GroupKFold, KFold, LeaveOneGroupOut
from threadpoolctl import threadpool_limits

from srna_nb.atlas import Atlas
from srna_nb.calibration import conformal_quantile
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.files import write_csv
from srna_nb.logs import logger
from srna_nb.parallel import run_jobs
from srna_nb.targets import TargetSamples

PROTOCOLS = ("kfold", "grouped", "leave_one_study_out")
#: The floor: always predict the training mean.
FLOOR = "mean"


@dataclass(frozen=True)
class NumericTarget(TargetSamples):
    """The samples usable for one numeric target, ready for scikit-learn (``y`` as float64)."""


def prepare_numeric_target(atlas: Atlas, target: str, *, where: Mapping[str, str | Sequence[str]] | None = None,
                           min_samples: int = 10) -> NumericTarget:
    """The labelled samples of a numeric column (``age``, or any other), as numbers.

    Missing values are left for augmentation; a value that is not a number (``"adult"``,
    ``"40s"``) is refused in one line naming the column, a sample and the value.
    """
    values = atlas.labels(target)
    parsed = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & parsed.isna()
    if bad.any():
        first = bad[bad].index[0]
        raise SrnaInputError(f"column {target!r} is not numeric: sample {first!r} has {values[first]!r} "
                             f"({int(bad.sum())} such values); fix them or leave them empty")
    keep = parsed.notna().to_numpy() & np.isfinite(parsed.fillna(0).to_numpy(dtype=float))
    keep &= atlas.matching(where)
    if keep.sum() < min_samples:
        raise SrnaParameterError(f"target {target!r} has {int(keep.sum())} labelled samples; at least {min_samples} are needed")
    studies = atlas.studies if atlas.study_column in atlas.samples.columns else None
    logger.info("%s: %d samples with a value kept (%d without one left for augmentation).", target, int(keep.sum()),
                int(parsed.isna().sum()))
    return NumericTarget(
        target=target, X=atlas.counts[keep], y=parsed[keep].to_numpy(dtype=np.float64),
        groups=studies[keep].astype(str).to_numpy(dtype=object) if studies is not None else None,
        sample_ids=atlas.sample_ids[keep], feature_names=atlas.feature_names,
    )


def split_indices(data: NumericTarget, protocol: str, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test positions of each fold of a protocol."""
    if protocol == "kfold":
        splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    elif protocol in ("grouped", "leave_one_study_out"):
        if data.groups is None:
            raise SrnaParameterError(f"protocol {protocol!r} holds out studies, but the data has no study column")
        n_studies = len(set(data.groups))
        if protocol == "grouped" and n_studies < n_splits:
            raise SrnaParameterError(f"protocol 'grouped' with {n_splits} folds needs at least {n_splits} studies, got {n_studies}")
        splitter = GroupKFold(n_splits=n_splits, shuffle=True, random_state=seed) if protocol == "grouped" else LeaveOneGroupOut()
    else:
        raise SrnaParameterError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    return list(splitter.split(data.X, data.y, data.groups if protocol != "kfold" else None))


def conformal_half_width(residuals: np.ndarray, coverage: float) -> float:
    """Split-conformal half-width: the conformal quantile of the absolute residuals
    (:func:`~srna_nb.calibration.conformal_quantile`)."""
    return conformal_quantile(np.abs(np.asarray(residuals, dtype=float)), coverage)


def calibration_protocol(groups: np.ndarray | None, n_splits: int) -> str:
    """How a training part is split for calibration: by study when it has enough studies, else k-fold."""
    return "grouped" if groups is not None and len(set(groups)) >= n_splits else "kfold"


def fit_with_interval(estimator, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None, *, coverage: float = 0.9,
                      n_splits: int = 5, seed: int = 0):
    """Fit ``estimator`` on all rows and a conformal half-width from study-held-out folds of the same rows.

    Returns ``(fitted estimator, half-width, calibration protocol)``.
    """
    inner = NumericTarget("", X, y, groups, pd.RangeIndex(len(y)), pd.RangeIndex(X.shape[1]))
    protocol = calibration_protocol(groups, n_splits)
    residuals = np.empty(len(y))
    for train, test in split_indices(inner, protocol, n_splits, seed):
        residuals[test] = y[test] - clone(estimator).fit(X[train], y[train]).predict(X[test])
    return clone(estimator).fit(X, y), conformal_half_width(residuals, coverage), protocol


def _fold_job(estimator, X, y, groups, train, test, coverage, calibration_folds, seed):
    with threadpool_limits(limits=1, user_api="blas"):  # same sums in every run and on every backend
        fitted, half_width, calibration = fit_with_interval(estimator, X[train], y[train],
                                                            groups[train] if groups is not None else None,
                                                            coverage=coverage, n_splits=calibration_folds, seed=seed)
        return fitted.predict(X[test]), half_width, calibration


@dataclass
class RegressionEvaluation:
    """Per-sample predictions with intervals of every model and fold (:func:`evaluate_regression`)."""

    target: str
    protocol: str
    coverage: float
    predictions: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Per model: MAE, median absolute error, R2, Pearson r, interval coverage and mean width (pooled over folds)."""
        rows = []
        for model, part in self.predictions.groupby("model", sort=False):
            truth, predicted = part["truth"].to_numpy(), part["predicted"].to_numpy()
            inside = (part["lower"] <= part["truth"]) & (part["truth"] <= part["upper"])
            rows.append({
                "model": model, "samples": len(part), "MAE": mean_absolute_error(truth, predicted),
                "median AE": median_absolute_error(truth, predicted), "R2": r2_score(truth, predicted),
                "Pearson r": pearsonr(truth, predicted).statistic if not np.allclose(predicted, predicted[0]) else np.nan,
                f"coverage of {self.coverage:.0%} interval": float(inside.mean()),
                "mean interval width": float((part["upper"] - part["lower"]).mean()),
            })
        table = pd.DataFrame(rows).set_index("model")
        table.insert(2, "MAE / floor", table["MAE"] / table.loc[FLOOR, "MAE"])
        return table

    def key_figures(self) -> dict[str, str]:
        """MAE and interval coverage of every model, one line each (for the report index)."""
        summary = self.summary()
        return {
            f"{self.target} MAE, {self.protocol}": ", ".join(f"{model} {value:.2f}" for model, value in summary["MAE"].items()),
            f"{self.target} {self.coverage:.0%} interval coverage, {self.protocol}":
                ", ".join(f"{model} {value:.2f}" for model, value in summary[f"coverage of {self.coverage:.0%} interval"].items()),
        }

    def write(self, directory: str | Path | None) -> list[Path]:
        """Summary, per-study errors and per-sample predictions with intervals as CSV (nothing for None)."""
        if directory is None:
            return []
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tables = {f"{self.target}_regression_summary.csv": (self.summary(), True),
                  f"{self.target}_per_study.csv": (self.per_study(), True),
                  f"{self.target}_predictions.csv": (self.predictions, False)}
        return [write_csv(table, directory / name, index=index) for name, (table, index) in tables.items()]

    def per_study(self) -> pd.DataFrame:
        """MAE and coverage per model and held-out study."""
        frame = self.predictions.assign(error=(self.predictions["truth"] - self.predictions["predicted"]).abs(),
                                        inside=(self.predictions["lower"] <= self.predictions["truth"])
                                        & (self.predictions["truth"] <= self.predictions["upper"]))
        return frame.groupby(["model", "study"]).agg(samples=("error", "size"), MAE=("error", "mean"), coverage=("inside", "mean"))


def evaluate_regression(data: NumericTarget, estimators: Mapping[str, object], protocol: str = "grouped", *,
                        n_splits: int = 5, seed: int = 0, coverage: float = 0.9, calibration_folds: int = 5) -> RegressionEvaluation:
    """Every regressor (cloned; the caller's objects stay unfitted) and the mean floor on the folds of ``protocol``.

    Each fold's interval half-width comes from ``calibration_folds`` study-held-out folds of that
    fold's training rows (k-fold when they hold too few studies); see :func:`fit_with_interval`.
    """
    if not 0 < coverage < 1:
        raise SrnaParameterError(f"coverage must be between 0 and 1, got {coverage}")
    models = {FLOOR: DummyRegressor(strategy="mean"), **estimators}
    folds = split_indices(data, protocol, n_splits, seed)
    jobs = [(name, fold) for fold in range(len(folds)) for name in models]
    outcomes = run_jobs(_fold_job, [(models[name], data.X, data.y, data.groups, *folds[fold], coverage, calibration_folds, seed)
                                    for name, fold in jobs])
    frames = []
    for (name, fold), (predicted, half_width, calibration) in zip(jobs, outcomes):
        test = folds[fold][1]
        frames.append(pd.DataFrame({
            "sample_id": data.sample_ids[test], "study": data.groups[test] if data.groups is not None else None,
            "fold": fold, "model": name, "truth": data.y[test], "predicted": predicted,
            "lower": predicted - half_width, "upper": predicted + half_width, "calibration": calibration,
        }))
    return RegressionEvaluation(data.target, protocol, coverage, pd.concat(frames, ignore_index=True))
