"""Age in years: DL, RF and ridge regressors against the mean-predictor floor, with 90% conformal intervals.

Rows (real ones skipped when their data is not in ../shared/data):

- ``simulated age, 5 grouped folds (simulated)``: the simulated atlas (1,500 samples), study-held-out folds;
- ``simulated age, hidden labels (simulated)``: trained on every sample with an age, then the
  samples whose age the simulator hid, scored against the simulator's true ages;
- ``LGRC lung age, 5 folds grouped by flow cell``;
- ``serum age, GSE131695 -> GSE69579`` and the reverse: trained on one study, tested on the other.

Intervals are split-conformal with study-held-out calibration inside each training part
(:mod:`srna_nb.regression`; k-fold where the training part is one study). Columns: MAE (mean and
sd over seeds), MAE relative to the floor, median absolute error, R2, Pearson r, coverage of
the nominal 90% interval and its mean width. Fits run on both cores.

Usage: ``python benchmarks/age_regression.py [n_seeds] [--rows substring,...]`` (default 3 seeds).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seeded_table import run, summarize, timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: Regressors by label: parameters of :func:`srna_nb.models.make_models` with ``regression=True``.
MODELS = {"dl": {}, "rf": {"n_estimators": 200}, "linear": {}}
COVERAGE = 0.9
CALIBRATION_FOLDS = 5


def regressors(seed: int, input_scale: str) -> dict:
    from srna_nb.models import make_models

    return make_models(MODELS, regression=True, input_scale=input_scale, seed=seed)


def _rows(name: str, predictions: pd.DataFrame, seed: int) -> list[dict]:
    from srna_nb.regression import RegressionEvaluation

    summary = RegressionEvaluation(name, "", COVERAGE, predictions).summary()
    return [{"row": name, "model": model, "seed": seed, **row} for model, row in summary.iterrows()]


def within(name: str, data, seeds, input_scale: str) -> list[dict]:
    from srna_nb.regression import evaluate_regression

    rows = []
    for seed in seeds:
        result = evaluate_regression(data, regressors(seed, input_scale), "grouped", n_splits=5, seed=seed,
                                     coverage=COVERAGE, calibration_folds=CALIBRATION_FOLDS)
        rows += _rows(name, result.predictions, seed)
    return rows


def transfer(name: str, train, test, seeds, input_scale: str) -> list[dict]:
    """Fit on ``train`` (all of it, interval calibrated on its own folds), predict ``test``."""
    from sklearn.dummy import DummyRegressor

    from srna_nb.regression import FLOOR, fit_with_interval

    rows = []
    for seed in seeds:
        frames = []
        for model, estimator in {FLOOR: DummyRegressor(), **regressors(seed, input_scale)}.items():
            fitted, half_width, _ = fit_with_interval(estimator, train.X, train.y, train.groups, coverage=COVERAGE,
                                                      n_splits=CALIBRATION_FOLDS, seed=seed)
            predicted = fitted.predict(test.X)
            frames.append(pd.DataFrame({"model": model, "study": "test", "truth": test.y, "predicted": predicted,
                                        "lower": predicted - half_width, "upper": predicted + half_width}))
        rows += _rows(name, pd.concat(frames, ignore_index=True), seed)
    return rows


def benchmark_rows(seeds, selected) -> list[dict]:
    from srna_nb import datasets
    from srna_nb.augment.inputs import align_features
    from srna_nb.regression import NumericTarget, prepare_numeric_target
    from srna_nb.simulate import simulate_atlas

    def wanted(name):
        return not selected or any(part in name for part in selected)

    rows: list[dict] = []
    atlas, truth = simulate_atlas(n_samples=1500, seed=0)
    name = "simulated age, 5 grouped folds (simulated)"
    if wanted(name):
        rows += _timed(name, lambda: within(name, prepare_numeric_target(atlas, "age"), seeds, atlas.value_kind))
    name = "simulated age, hidden labels (simulated)"
    if wanted(name):
        hidden = atlas.samples["age"].isna().to_numpy()
        true_age = truth.samples.loc[atlas.sample_ids[hidden], "age"].to_numpy(dtype=float)
        test = NumericTarget("age", atlas.counts[hidden], true_age, None, atlas.sample_ids[hidden], atlas.feature_names)
        rows += _timed(name, lambda: transfer(name, prepare_numeric_target(atlas, "age"), test, seeds, atlas.value_kind))
    if (SHARED / "lgrc_lung").is_dir():
        name = "LGRC lung age, 5 folds grouped by flow cell"
        if wanted(name):
            lgrc = datasets.load_dataset("lgrc_lung", path=SHARED)[0]
            rows += _timed(name, lambda: within(name, prepare_numeric_target(lgrc, "age"), seeds, lgrc.value_kind))
    if (SHARED / "serum_geo").is_dir():
        studies = {g: datasets.load_dataset(g, path=SHARED)[0] for g in ("GSE131695", "GSE69579")}
        for train_name, test_name in (("GSE131695", "GSE69579"), ("GSE69579", "GSE131695")):
            name = f"serum age, {train_name} -> {test_name}"
            if not wanted(name):
                continue
            train = prepare_numeric_target(studies[train_name], "age")
            other = prepare_numeric_target(studies[test_name], "age")
            X, _ = align_features(studies[test_name].subset(samples=other.sample_ids), list(map(str, train.feature_names)), 0.0,
                                  studies[train_name].value_kind)
            test = NumericTarget("age", X, other.y, None, other.sample_ids, train.feature_names)
            rows += _timed(name, lambda: transfer(name, train, test, seeds, studies[train_name].value_kind))
    return rows


def _timed(name: str, work) -> list[dict]:
    return timed(name, work, table)


def table(rows: list[dict]) -> pd.DataFrame:
    return summarize(rows, ["MAE", "MAE / floor", "median AE", "R2", "Pearson r", f"coverage of {COVERAGE:.0%} interval", "mean interval width"], spread=("MAE",))


def main(argv: list[str]) -> int:
    return run(argv, __doc__.splitlines()[0], benchmark_rows, table)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
