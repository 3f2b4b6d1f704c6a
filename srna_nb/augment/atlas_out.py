"""Leave one atlas out: train on all other atlases, annotate the one held out, for every atlas.

This is the product's promise measured: a model meets a lab, a pipeline and often classes it has
never seen. For each atlas in turn, a bundle is trained on the others together
(:func:`~srna_nb.atlas.concat_atlases`; calibration, thresholds and early stopping come from the
training atlases' own held-out studies, never from the held-out atlas) and annotates every
sample of the held-out atlas that carries the target. Scores keep apart what the model could
know: accuracy, confident share and confident accuracy over samples of classes it learnt, and
the share of samples of never-learnt classes kept out of ``confident`` (it cannot name them;
it should not claim them). A plain scikit-learn random forest on the same features (log2-RPM,
no calibration) is scored alongside as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from threadpoolctl import threadpool_limits

from srna_nb.atlas import Atlas, concat_atlases
from srna_nb.augment.annotate import annotate
from srna_nb.augment.inputs import align_features
from srna_nb.augment.train import train_bundle
from srna_nb.errors import SrnaParameterError
from srna_nb.logs import logger
from srna_nb.models import model_spec
from srna_nb.targets import TargetSelection
from srna_nb.vocabulary import class_grouping

#: Label of the plain scikit-learn reference in the scores.
PLAIN_SKLEARN = "plain sklearn RF"
#: Columns of :attr:`LeaveOneAtlasOutStudy.scores` averaged over seeds.
SCORE_COLUMNS = ("learnt-class accuracy", "confident share", "confident accuracy", "never-learnt not confident",
                 "never-learnt group accuracy", "unknown share", "low-coverage share")


@dataclass
class LeaveOneAtlasOutStudy:
    """Result of :func:`leave_one_atlas_out`: one row per held-out atlas x model x seed."""

    target: str
    scores: pd.DataFrame
    bundles: dict[tuple[str, str, int], object] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean per held-out atlas and model, with the spread over seeds (sd) of the headline scores."""
        keys = ["held-out atlas", "model"]
        grouped = self.scores.groupby(keys, sort=False)
        table = grouped[list(SCORE_COLUMNS)].mean()
        spread = grouped[list(SCORE_COLUMNS)].std(ddof=0)
        # "accuracy sd" (not "learnt-class accuracy sd"): the name the shipped cards carry.
        table.insert(1, "accuracy sd", spread["learnt-class accuracy"])
        for column in ("confident share", "confident accuracy", "never-learnt not confident"):
            table.insert(table.columns.get_loc(column) + 1, f"{column} sd", spread[column])
        first = grouped[["samples", "learnt-class samples", "never-learnt samples", "training classes"]].first()
        return pd.concat([grouped.size().rename("seeds"), first, table], axis=1)


def score_held_out(truth, predicted, status, learnt_classes, group=None) -> dict[str, float]:
    """Scores of predictions on data whose classes a model may not all know.

    Parameters
    ----------
    truth, predicted, status
        The given labels, the predicted ones and the annotation status (``confident`` or not).
    learnt_classes
        The classes the model can predict.
    group
        A function from a class to its group one level up (:func:`srna_nb.vocabulary.class_grouping`).
        With it, ``never-learnt group accuracy`` is the share of never-learnt-class samples whose
        predicted class is in their own group (NaN without it).
    """
    truth, predicted = np.asarray(truth, dtype=object), np.asarray(predicted, dtype=object)
    confident = np.asarray(status, dtype=object) == "confident"
    learnt = np.isin(truth, list(learnt_classes))
    known = learnt.any()
    return {
        "samples": int(len(truth)),
        "learnt-class samples": int(learnt.sum()),
        "never-learnt samples": int((~learnt).sum()),
        "learnt-class accuracy": float((predicted[learnt] == truth[learnt]).mean()) if known else np.nan,
        "confident share": float(confident[learnt].mean()) if known else np.nan,
        "confident accuracy": float((predicted[learnt & confident] == truth[learnt & confident]).mean())
        if (learnt & confident).any() else np.nan,
        "never-learnt not confident": float((~confident[~learnt]).mean()) if (~learnt).any() else np.nan,
        "never-learnt group accuracy": float(np.mean([group(p) == group(t) for p, t in zip(predicted[~learnt], truth[~learnt])]))
        if group is not None and (~learnt).any() else np.nan,
        "unknown share": float((np.asarray(status, dtype=object) == "unknown").mean()),
        # Samples whose matrix lacks too much of what the model relies on get no call at all.
        "low-coverage share": float((np.asarray(status, dtype=object) == "low_coverage").mean()),
    }


def leave_one_atlas_out(
    atlases: dict[str, Atlas],
    target: str | TargetSelection,
    models: dict[str, dict] | None = None,
    *,
    seeds=(0, 1, 2),
    plain_sklearn: bool = True,
    min_share: float = 1.0,
    level: str = "auto",
    protocol: str = "grouped",
    n_splits: int = 5,
    imputation: str | None = None,
    novelty=None,
    keep_bundles: bool = False,
    score_by: str | None = None,
    training_where: dict[str, dict] | None = None,
    progress: bool = False,
) -> LeaveOneAtlasOutStudy:
    """Train on all atlases but one, annotate the one held out; every atlas in turn.

    Parameters
    ----------
    atlases
        Name -> Atlas, each with a ``target`` column in one vocabulary (e.g. ``sample_type`` from
        :func:`srna_nb.vocabulary.sample_types`); samples without a label are not scored.
    target
        The label to predict, or a :class:`~srna_nb.targets.TargetSelection` with its class
        filters (applied to the training atlases only).
    models
        Label -> hyperparameters (default ``{"linear": {}}``), as in
        :func:`~srna_nb.augment.cross.cross_atlas_study`.
    seeds
        One bundle per held-out atlas, model and seed.
    plain_sklearn
        Also score a plain scikit-learn random forest on the bundle's features (log2-RPM).
    min_share, level, protocol, n_splits
        :func:`~srna_nb.atlas.concat_atlases` feature share and level, and :func:`~srna_nb.augment.train_bundle`
        cross-fitting of the training atlases.
    imputation
        Missing features of the held-out atlas filled with ``mean`` or ``zero`` (default: each
        bundle's own, by model).
    novelty
        The (unfitted) :class:`~srna_nb.novelty.NoveltyScorer` of every bundle (default: train_bundle's).
    score_by
        A sample-sheet column (e.g. TCGA's ``sample_code``: tumour or normal) by whose values the
        held-out atlas is also scored part by part, as rows ``<atlas> (<column>=<value>)``.
    training_where
        Atlas name -> ``where`` (column -> allowed values, :meth:`~srna_nb.atlas.Atlas.matching`): the
        samples of that atlas that training uses, e.g. ``{"tcga": {"sample_code": ["11"]}}`` (adjacent
        normals, not tumours); held out, the atlas is scored on all its samples.
    keep_bundles
        Keep every bundle in :attr:`LeaveOneAtlasOutStudy.bundles` (by held-out atlas, model, seed).
    """
    if len(atlases) < 2:
        raise SrnaParameterError(f"leave-one-atlas-out needs at least 2 atlases, got {len(atlases)}")
    selection = TargetSelection.of(target, min_studies=2)
    group = class_grouping(selection.target)
    models = models or {"linear": {}}
    if level == "auto":  # decided on every atlas: a held-out hairpin atlas needs family-level bundles
        level = "family" if any(a.provenance.get("feature_level") == "hairpin" for a in atlases.values()) else "mature"
    rows, bundles = [], {}
    # Single-threaded BLAS: multi-threaded sums differ in the last float64 digits between runs.
    with threadpool_limits(limits=1, user_api="blas"):
        for held_out, test in atlases.items():
            labels = test.labels(selection.target)
            test = test.subset(samples=labels.notna().to_numpy())
            truth = test.labels(selection.target).to_numpy(dtype=object)
            training = concat_atlases({name: training_samples(atlas, (training_where or {}).get(name))
                                       for name, atlas in atlases.items() if name != held_out},
                                      min_share=min_share, level=level)
            for model, variant in models.items():
                kind, params = model_spec(model, variant)
                logger.info("leave-one-atlas-out: %s held out, %s", held_out, model)
                for seed in seeds:
                    # conflict_protocol=protocol: the training samples' own conflicts are not scored here,
                    # so one cross-fitting serves both (half the fits; the held-out atlas' labels are the same).
                    bundle = train_bundle(training, selection, kind, params, protocol=protocol, conflict_protocol=protocol,
                                          n_splits=n_splits, imputation=imputation, novelty=novelty, seed=seed,
                                          progress=progress)
                    table = annotate(bundle, test).table
                    for part, rows_of_part in _parts(test, held_out, score_by):
                        rows.append({"held-out atlas": part, "model": model, "seed": seed,
                                     "training classes": len(bundle.classes),
                                     **score_held_out(truth[rows_of_part], table["predicted"].to_numpy()[rows_of_part],
                                                      table["status"].to_numpy()[rows_of_part], bundle.classes, group)})
                    if keep_bundles:
                        bundles[(held_out, model, seed)] = bundle
                    if plain_sklearn and model == next(iter(models)):
                        predicted = plain_forest_predictions(training, test, bundle, seed)
                        for part, rows_of_part in _parts(test, held_out, score_by):
                            rows.append({"held-out atlas": part, "model": PLAIN_SKLEARN, "seed": seed,
                                         "training classes": len(bundle.classes),
                                         **score_held_out(truth[rows_of_part], predicted[rows_of_part],
                                                          np.full(len(rows_of_part), ""), bundle.classes, group),
                                         "confident share": np.nan, "unknown share": np.nan, "low-coverage share": np.nan,
                                         "never-learnt not confident": np.nan})
    return LeaveOneAtlasOutStudy(selection.target, pd.DataFrame(rows), bundles)


def training_samples(atlas: Atlas, where: dict | None) -> Atlas:
    """The samples of ``atlas`` a model learns from: those matching ``where`` (all when None)."""
    return atlas if not where else atlas.subset(samples=atlas.matching(where))


def _parts(test: Atlas, name: str, score_by: str | None):
    """(row label, sample positions) of the held-out atlas as a whole, then of each value of ``score_by``."""
    yield name, np.arange(test.n_samples)
    if score_by is not None and score_by in test.samples.columns:
        values = test.samples[score_by].astype("string").fillna("NA").to_numpy(dtype=object)
        for value in sorted(set(values)):
            yield f"{name} ({score_by}={value})", np.flatnonzero(values == value)


def plain_forest_predictions(training: Atlas, test: Atlas, bundle, seed: int) -> np.ndarray:
    """Predictions of a default scikit-learn forest trained on the bundle's samples and features."""
    training = training.subset(samples=pd.Index(bundle.out_of_fold["sample_id"]))
    X_train, _ = align_features(training, bundle.features, 0.0, "log2_rpm")
    X_test, _ = align_features(test, bundle.features, 0.0, "log2_rpm")
    forest = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1)
    forest.fit(np.nan_to_num(X_train), training.labels(bundle.target).to_numpy(dtype=object))
    return forest.predict(np.nan_to_num(X_test))
