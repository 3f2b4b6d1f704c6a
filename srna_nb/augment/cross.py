"""Cross-atlas annotation: train a bundle on one atlas, annotate another atlas' samples, both directions.

This is what a researcher does with public data: the model meets samples from other studies and,
usually, another quantification pipeline. For each ordered pair of atlases, a bundle is trained
on the first (calibration and thresholds from its own study-held-out folds) and annotates every
labelled sample of the second; the truth is the second atlas' own label. Scores keep apart what
the model could know: accuracy and confident calls over samples of classes it learnt, and the
share of samples of never-learnt classes kept out of ``confident``; a plain scikit-learn random
forest on the same features is scored alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from threadpoolctl import threadpool_limits

from srna_nb.atlas import Atlas
from srna_nb.augment.annotate import SET_SEPARATOR, annotate, set_covers
from srna_nb.augment.inputs import FeatureOverlap
from srna_nb.augment.atlas_out import PLAIN_SKLEARN, plain_forest_predictions
from srna_nb.augment.train import train_bundle
from srna_nb.calibration import reliability_table
from srna_nb.files import write_csv
from srna_nb.models import model_spec
from srna_nb.targets import TargetSelection

#: Columns of :attr:`CrossAtlasStudy.scores` that are averaged over seeds; all but the last
#: are over samples of classes the model learnt.
SCORE_COLUMNS = ("accuracy", "balanced accuracy", "macro F1", "confident share", "confident accuracy",
                 "set coverage", "mean set size", "unknown share", "low-coverage share", "feature coverage", "importance coverage",
                 "never-learnt not confident")


@dataclass
class CrossAtlasStudy:
    """Result of :func:`cross_atlas_study`."""

    target: str
    scores: pd.DataFrame
    reliability: pd.DataFrame
    annotations: dict[str, pd.DataFrame] = field(default_factory=dict)
    overlaps: dict[str, FeatureOverlap] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over seeds, per direction, model and imputation."""
        keys = ["direction", "model", "imputation"]
        grouped = self.scores.groupby(keys, sort=False)[list(SCORE_COLUMNS)]
        mean, spread = grouped.mean(), grouped.std(ddof=0)
        table = mean.copy()
        for column in ("accuracy", "balanced accuracy", "confident accuracy"):
            table.insert(table.columns.get_loc(column) + 1, f"{column} sd", spread[column])
        table.insert(0, "seeds", grouped.size())
        counts = self.scores.groupby(keys, sort=False)[["samples", "never-learnt samples"]].first()
        table.insert(1, "learnt-class samples", counts["samples"])
        table.insert(2, "never-learnt samples", counts["never-learnt samples"])
        return table

    def key_figures(self) -> dict[str, str]:
        """Headline figures per direction (first model and imputation listed), for the report index."""
        figures = {}
        for (direction, model, imputation), row in self.summary().iterrows():
            if f"{direction}: accuracy" in figures:
                continue
            figures[f"{direction}: accuracy"] = f"{row['accuracy']:.3f} ({model}, missing = {imputation})"
            figures[f"{direction}: confident share / accuracy"] = (
                f"{row['confident share']:.2f} / " + ("-" if np.isnan(row["confident accuracy"]) else f"{row['confident accuracy']:.3f}"))
            if row["never-learnt samples"]:
                figures[f"{direction}: never-learnt samples not confident"] = (
                    f"{row['never-learnt not confident']:.2f} of {int(row['never-learnt samples'])}")
        return figures

    def write(self, output_dir: str | Path | None) -> list[Path]:
        """CSV tables (scores, summary, reliability, annotations) and key figures; nothing when ``output_dir`` is None."""
        if output_dir is None:
            return []
        output_dir = Path(output_dir)
        written = [write_csv(self.scores, output_dir / "cross_atlas_scores.csv"),
                   write_csv(self.summary().reset_index(), output_dir / "cross_atlas_summary.csv"),
                   write_csv(self.reliability, output_dir / "cross_atlas_reliability.csv")]
        for direction, table in self.annotations.items():
            written.append(write_csv(table, output_dir / f"annotated_{_slug(direction)}.csv"))
        return written


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_")


def cross_atlas_study(
    atlases: dict[str, Atlas],
    target: str | TargetSelection,
    models: dict[str, dict] | None = None,
    *,
    seeds=(0, 1, 2),
    imputations=("mean", "zero"),
    n_splits: int = 5,
    progress: bool = False,
) -> CrossAtlasStudy:
    """Train on each atlas, annotate every other atlas' samples of the shared classes.

    Parameters
    ----------
    atlases
        Name -> Atlas; each has a ``target`` column with one vocabulary across atlases.
    target
        The label to predict (e.g. ``organ``), or a :class:`~srna_nb.targets.TargetSelection`
        with the classes' filters (a name alone: at least 10 samples from 2 studies).
    models
        Label -> hyperparameters (default: ``{"linear": {}}``); the label is the model name
        (``dl``, ``rf``, ``linear``) unless the parameters name it as ``model``, e.g.
        ``{"linear-centred": {"model": "linear", "scaling": "center"}}``.
    seeds
        One bundle per seed (the model's and the cross-fitting's seed); scores keep every seed.
    imputations
        How missing features are filled in when annotating (each is scored).
    n_splits
        Passed to :func:`~srna_nb.augment.train_bundle`.

    Returns
    -------
    CrossAtlasStudy
        Scores per direction x model x seed x imputation; the reliability of calibrated
        probabilities on the other atlas (first seed, first imputation) and its annotated table.
    """
    models = models or {"linear": {}}
    # Single-threaded BLAS: multi-threaded sums differ in the last float64 digits between runs.
    with threadpool_limits(limits=1, user_api="blas"):
        return _cross_atlas_study(atlases, TargetSelection.of(target, min_studies=2), models, seeds, imputations, n_splits,
                                  progress)


def _cross_atlas_study(atlases, selection, models, seeds, imputations, n_splits, progress):
    target = selection.target
    rows, reliability, annotations, overlaps = [], [], {}, {}
    for train_name, train_atlas in atlases.items():
        for test_name, test_atlas in atlases.items():
            if test_name == train_name:
                continue
            direction = f"{train_name} -> {test_name}"
            test = test_atlas.subset(samples=test_atlas.labels(target).notna().to_numpy())
            truth = test.labels(target).to_numpy(dtype=object)
            for model, variant in models.items():
                kind, params = model_spec(model, variant)
                for seed in seeds:
                    bundle = train_bundle(train_atlas, selection, kind, params, n_splits=n_splits, seed=seed,
                                          progress=progress)
                    learnt = np.isin(truth, list(bundle.classes))
                    counts = {"samples": int(learnt.sum()), "classes": len(set(truth[learnt])),
                              "never-learnt samples": int((~learnt).sum())}
                    for imputation in imputations:
                        annotation = annotate(bundle, test, imputation=imputation)
                        rows.append({"direction": direction, "model": model, "seed": seed, "imputation": imputation,
                                     **counts, **_scores(annotation, truth, learnt)})
                        if seed == seeds[0] and imputation == imputations[0]:
                            proba = annotation.probabilities.to_numpy()[learnt]
                            columns = annotation.probabilities.columns
                            table = reliability_table(proba, np.searchsorted(columns, truth[learnt]))
                            reliability.append(table.assign(direction=direction, model=model))
                            annotations[f"{direction} ({model})"] = annotation.table.assign(truth=truth, learnt=learnt)
                            overlaps[f"{direction} ({model})"] = annotation.overlap
                    if model == next(iter(models)):
                        predicted = plain_forest_predictions(train_atlas, test, bundle, seed)
                        rows.append({"direction": direction, "model": PLAIN_SKLEARN, "seed": seed, "imputation": "zero",
                                     **counts, **prediction_scores(truth[learnt], predicted[learnt])})
    return CrossAtlasStudy(target, pd.DataFrame(rows), pd.concat(reliability, ignore_index=True), annotations, overlaps)


def prediction_scores(truth, predicted, confident=None, sets=None) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1; given which calls are confident, their share and accuracy;
    given prediction sets (an annotation's ``prediction_set`` column), their coverage and mean size."""
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    scores = {
        "accuracy": accuracy_score(truth, predicted),
        "balanced accuracy": balanced_accuracy_score(truth, predicted),
        "macro F1": f1_score(truth, predicted, average="macro", labels=sorted(set(truth)), zero_division=0),
        "confident share": np.nan, "confident accuracy": np.nan, "set coverage": np.nan, "mean set size": np.nan,
    }
    if confident is not None:
        confident = np.asarray(confident, dtype=bool)
        scores["confident share"] = float(confident.mean())
        if confident.any():
            scores["confident accuracy"] = float((predicted[confident] == truth[confident]).mean())
    if sets is not None:
        scores["set coverage"] = float(set_covers(sets, truth).mean())
        scores["mean set size"] = float(np.mean([len(str(s).split(SET_SEPARATOR)) for s in sets]))
    return scores


def _scores(annotation, truth: np.ndarray, learnt: np.ndarray) -> dict[str, float]:
    """:func:`prediction_scores` and statuses over learnt-class samples; never-learnt ones kept out of ``confident``."""
    table = annotation.table
    status = table["status"].to_numpy(dtype=object)
    known = table[learnt]
    return {
        **prediction_scores(truth[learnt], known["predicted"], status[learnt] == "confident", known.get("prediction_set")),
        "unknown share": float((status[learnt] == "unknown").mean()),
        "low-coverage share": float((status[learnt] == "low_coverage").mean()),
        "feature coverage": annotation.overlap.share,
        "importance coverage": annotation.overlap.importance_share,
        "never-learnt not confident": float((status[~learnt] != "confident").mean()) if (~learnt).any() else np.nan,
    }


def mapping_summary(atlases: dict[str, Atlas]) -> pd.DataFrame:
    """Atlas x name status: how each atlas' feature names were harmonized (rows of the input)."""
    from srna_nb.names import NAME_STATUSES, harmonize_names

    counts = {}
    for name, atlas in atlases.items():
        mapping = atlas.provenance.get("name_mapping")
        if mapping is None:  # e.g. the simulator's names: harmonize them here, as a loader would
            mapping = harmonize_names(list(atlas.feature_names))
        counts[name] = mapping["status"].value_counts().reindex(list(NAME_STATUSES), fill_value=0)
        counts[name]["rows summed"] = int(len(mapping) - mapping["members"].nunique())
    return pd.DataFrame(counts).T
