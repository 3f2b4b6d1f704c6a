"""Accuracy where it matters: every model on the real benchmark rows, seed means and spreads, one table.

Rows (each skipped when its data is not in ../shared/data):

- ``microRNA atlas organ, leave-one-study-out``: tissue samples of organs in two or more studies
  (the ``real`` profile's task);
- ``microRNA atlas -> TA2`` and ``TA2 -> microRNA atlas``, organ: a bundle trained on one atlas
  annotates the other's samples of the shared organs (other pipeline); confident share and
  accuracy from the bundle's calibrated probabilities;
- ``LGRC lung sex, 5 folds grouped by flow cell``;
- ``serum sex, GSE131695 -> GSE69579`` and the reverse (other study, other pipeline);
- ``simulated tissue, 5 grouped folds`` (simulated data, so that nothing done for real data breaks it;
  without ``sk_rf``, the slowest column there).

Models: ``dl``, ``rf`` (200 trees) and ``linear`` as srna_nb builds them (each sample quantile-normalized, then centred), and
the floor every model must beat: plain scikit-learn on log2(RPM + 1) (``sk_lr`` logistic
regression, ``sk_rf`` random forest of 100 trees). Variants measured once and not kept (z-scores,
DL refit) are recorded in docs/design.md; add one to ``MODELS`` to compare it again. Columns: accuracy, balanced accuracy, macro-F1 (mean and sd over
seeds) and, for bundle rows, the share of confident calls and their accuracy, and the coverage
and mean size of the bundles' 90% conformal prediction sets on the other atlas or study, their
unknown share and whether the matrix as a whole was flagged as shifted (share of seeds).

Fits run on both cores (``srna_nb.parallel`` with local processes: results identical to serial).
Usage: ``python benchmarks/real_data.py [n_seeds] [--rows substring,...]`` (default 3 seeds, all rows).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from seeded_table import run, summarize, timed  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: srna_nb's models by label: parameters of :func:`srna_nb.models.make_model` (``model`` names the kind).
MODELS = {"dl": {}, "rf": {"n_estimators": 200}, "linear": {}}

TRANSFER_MIN_CLASS_SIZE = 5


def log2_rpm(X):
    """log2(RPM + 1) over each row's total (module level: picklable for worker processes)."""
    X = np.asarray(X, dtype=np.float64)
    totals = X.sum(axis=1, keepdims=True)
    return np.log2(X / np.where(totals > 0, totals, 1.0) * 1e6 + 1.0)


def estimators(seed: int, input_scale: str = "counts") -> dict:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    from srna_nb.models import make_models

    built = make_models(MODELS, input_scale=input_scale, seed=seed)
    built["sk_lr"] = make_pipeline(FunctionTransformer(log2_rpm), LogisticRegression(max_iter=2000))
    built["sk_rf"] = make_pipeline(FunctionTransformer(log2_rpm), RandomForestClassifier(random_state=seed, n_jobs=1))
    return built


def within(name: str, data, protocol: str, n_splits: int, seeds, leave_out: tuple[str, ...] = ()) -> list[dict]:
    """One row per model x seed from :func:`srna_nb.evaluation.evaluate` (pooled over folds), without ``leave_out``."""
    from srna_nb.evaluation import evaluate

    rows = []
    for seed in seeds:
        models = {label: model for label, model in estimators(seed).items() if label not in leave_out}
        summary = evaluate(data, models, [protocol], n_splits=n_splits, seed=seed, progress=False).summary()
        for (model, _), row in summary.iterrows():
            rows.append({"row": name, "model": model, "seed": seed, "samples": int(row["samples"]),
                         "accuracy": row["pooled accuracy"], "balanced accuracy": row["pooled balanced_accuracy"],
                         "macro F1": row["pooled macro_f1"], "confident share": np.nan, "confident accuracy": np.nan,
                         "set coverage": np.nan, "mean set size": np.nan, "unknown share": np.nan, "shift flagged": np.nan})
    return rows


def transfer(name: str, train, test, target: str, seeds, bundles: bool) -> list[dict]:
    """Train on one atlas, predict another (features matched by name, value scales converted).

    With ``bundles``, srna_nb's models are calibrated bundles (confident share and accuracy);
    the scikit-learn floor is always fitted plainly on the same features.
    """
    from sklearn.base import clone

    from srna_nb.augment import annotate, train_bundle
    from srna_nb.augment.inputs import align_features
    from srna_nb.augment.cross import prediction_scores
    from srna_nb.models import model_spec
    from srna_nb.targets import TargetSelection

    # Classes as the bundles keep them: at least 5 samples from 2 studies (TA2's organs have 5-9
    # samples from its 6 donors, so 10 would leave 3 of the 11 shared organs). Rows without
    # bundles train on one study (serum), so their classes need one study.
    selection = TargetSelection(target, min_class_size=TRANSFER_MIN_CLASS_SIZE, min_studies=2 if bundles else 1)
    data = selection.prepare(train)
    labels = test.labels(target)
    test = test.subset(samples=labels.isin(data.classes).to_numpy())
    truth = test.labels(target).to_numpy(dtype=object)
    X_test, _ = align_features(test, list(map(str, data.feature_names)), 0.0, train.value_kind)
    rows = []
    for seed in seeds:
        for model, estimator in estimators(seed, train.value_kind).items():
            if bundles and model in MODELS:
                bundle = train_bundle(train, selection, *model_spec(model, MODELS[model]), seed=seed, progress=False)
                annotation = annotate(bundle, test)
                table = annotation.table
                scores = prediction_scores(truth, table["predicted"], (table["status"] == "confident").to_numpy(),
                                           table["prediction_set"])
                scores |= {"unknown share": annotation.shift.unknown_share, "shift flagged": float(annotation.shift.shifted)}
            else:
                scores = prediction_scores(truth, clone(estimator).fit(data.X, data.y).predict(X_test))
                scores |= {"unknown share": np.nan, "shift flagged": np.nan}
            rows.append({"row": name, "model": model, "seed": seed, "samples": len(truth), **scores})
    return rows


def benchmark_rows(seeds, selected) -> list[dict]:
    from srna_nb import datasets
    from srna_nb.simulate import simulate_atlas
    from srna_nb.targets import prepare_target

    def wanted(name):
        return not selected or any(part in name for part in selected)

    rows: list[dict] = []
    have = {name: (SHARED / name).is_dir() for name in ("microrna_atlas", "mirna_tissue_atlas2", "lgrc_lung", "serum_geo")}
    if have["microrna_atlas"]:
        tissue = datasets.load_sources({"m": {"source": "microrna_atlas", "path": SHARED / "microrna_atlas",
                                              "where": {"sample_category": ["tissue"]}}})["m"]
        name = "microRNA atlas organ, leave-one-study-out"
        if wanted(name):
            data = prepare_target(tissue, "organ", min_class_size=3, min_studies=2)
            rows += _timed(name, lambda: within(name, data, "leave_one_study_out", 3, seeds))
        if have["mirna_tissue_atlas2"]:
            ta2 = datasets.load_dataset("mirna_tissue_atlas2", path=SHARED)[0]
            for train_name, train, test_name, test in (("microRNA atlas", tissue, "TA2", ta2), ("TA2", ta2, "microRNA atlas", tissue)):
                name = f"organ, {train_name} -> {test_name}"
                if wanted(name):
                    rows += _timed(name, lambda: transfer(name, train, test, "organ", seeds, bundles=True))
    if have["lgrc_lung"]:
        name = "LGRC lung sex, 5 folds grouped by flow cell"
        if wanted(name):
            lgrc = datasets.load_dataset("lgrc_lung", path=SHARED)[0]
            data = prepare_target(lgrc, "sex")
            rows += _timed(name, lambda: within(name, data, "grouped", 5, seeds))
    if have["serum_geo"]:
        first = datasets.load_dataset("GSE131695", path=SHARED)[0]
        second = datasets.load_dataset("GSE69579", path=SHARED)[0]
        for train_name, train, test_name, test in (("GSE131695", first, "GSE69579", second), ("GSE69579", second, "GSE131695", first)):
            name = f"serum sex, {train_name} -> {test_name}"
            if wanted(name):
                rows += _timed(name, lambda: transfer(name, train, test, "sex", seeds, bundles=False))
    name = "simulated tissue, 5 grouped folds (simulated)"
    if wanted(name):
        atlas, _ = simulate_atlas(seed=0)
        data = prepare_target(atlas, "tissue", min_studies=2)
        # Without the plain forest: it is the slowest column on 4,130 samples, and this row checks
        # srna_nb's models against the simulated figures (the floor stays with sk_lr).
        rows += _timed(name, lambda: within(name, data, "grouped", 5, seeds, leave_out=("sk_rf",)))
    return rows


def _timed(name: str, work) -> list[dict]:
    return timed(name, work, table)


def table(rows: list[dict]) -> pd.DataFrame:
    return summarize(rows, ["accuracy", "balanced accuracy", "macro F1", "confident share", "confident accuracy", "set coverage",
                            "mean set size", "unknown share", "shift flagged"], spread=("accuracy", "balanced accuracy"))


def main(argv: list[str]) -> int:
    return run(argv, __doc__.splitlines()[0], benchmark_rows, table)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
