"""Train a bundle: held-out-study predictions for calibration and thresholds, then a fit on everything.

1. Cross-fitting over studies (``grouped`` folds by default): every labelled sample gets a
   prediction from a model that never saw its study. These out-of-fold predictions fit the
   temperature of the calibration, set the novelty thresholds (so that ``unknown_rate`` of
   in-distribution samples from unseen studies are flagged), give the held-out metrics of the
   summary and the cross-fitted annotations of the training samples (conflict candidates).
2. The pipeline and the novelty scorer are then fitted on all labelled samples.

Calibration quality is measured honestly: the "after" ECE uses, for each fold, a temperature
fitted on the other folds only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score

from srna_nb.atlas import Atlas
from srna_nb.augment.annotate import flag_conflicts, label_table
from srna_nb.augment.inputs import DEFAULT_IMPUTATION, IMPUTATIONS
from srna_nb.augment.bundle import Bundle, HeldOutSummary
from srna_nb.augment.report import default_novelty, package_versions
from srna_nb.augment.numeric import NumericBundle, train_numeric_bundle
from srna_nb.augment.reliance import input_reliance
from srna_nb.calibration import TemperatureScaler, expected_calibration_error, reliability_table, set_members, set_threshold
from srna_nb.errors import SrnaParameterError
from srna_nb.evaluation import evaluate, split_indices
from srna_nb.models import make_model
from srna_nb.novelty import NoveltyScorer
from srna_nb.targets import TargetSelection, target_kind


def train_bundle(
    atlas: Atlas,
    target: str | TargetSelection,
    model: str = "dl",
    params: dict | None = None,
    *,
    protocol: str = "grouped",
    conflict_protocol: str = "stratified",
    n_splits: int = 5,
    confidence_threshold: float = 0.7,
    unknown_rate: float = 0.05,
    min_share: float = 0.01,
    imputation: str | None = None,
    min_coverage: float = 0.5,
    novelty: NoveltyScorer | None = None,
    kind: str = "auto",
    coverage: float = 0.9,
    seed: int = 0,
    progress: bool = True,
) -> Bundle | NumericBundle:
    """Fit ``model`` for ``target`` on all labelled samples of ``atlas``, calibrated and with abstention.

    A numeric column (``age`` in years; see :func:`~srna_nb.targets.target_kind`) gives a
    :class:`~srna_nb.augment.numeric.NumericBundle` instead (:func:`~srna_nb.augment.numeric.train_numeric_bundle`:
    a regressor with a conformal interval at ``coverage``); the class-specific settings then do not apply.

    Parameters
    ----------
    atlas
        Training data.
    target
        The sample-sheet column to predict, or a :class:`~srna_nb.targets.TargetSelection`
        (column, class filters, age bins, sample filter); a column name alone keeps classes with
        at least 10 samples from at least 2 studies.
    model, params
        Model name (``dl``, ``rf``, ``linear``) and hyperparameters.
    protocol
        Cross-fitting for calibration, novelty thresholds and the held-out metrics of the
        summary: ``grouped`` (whole studies held out, as new data will be) by default;
        ``leave_one_atlas_out`` holds out each atlas of a :func:`~srna_nb.atlas.concat_atlases`
        result in turn (its ``atlas`` column), so that confidence is set on another pipeline's
        data. Samples of a class their fold's model never saw (a class only the held-out atlas
        has) count in the held-out metrics but not in calibration or thresholds.
    conflict_protocol
        Cross-fitting for the annotations of the training samples themselves (conflict
        candidates): ``stratified`` by default, because a mislabel sits in a study whose other
        samples the model may learn from, as it will when checking an atlas it was trained on.
    n_splits
        Folds of both cross-fittings.
    confidence_threshold
        Calibrated probability from which a prediction is ``confident``.
    unknown_rate
        Share of held-out in-distribution samples the novelty thresholds flag as ``unknown``.
    imputation
        How :func:`~srna_nb.augment.annotate` fills features a new matrix lacks: ``mean`` (the
        training mean at the classifier's input) or ``zero`` (not detected). Default: by model,
        :data:`~srna_nb.augment.inputs.DEFAULT_IMPUTATION` (``zero`` for the forest, ``mean``
        otherwise and for numeric targets).
    min_coverage
        Share of the model's input importance a new matrix must hold for labels to be given.
    novelty
        The (unfitted) :class:`~srna_nb.novelty.NoveltyScorer` behind the ``unknown`` status,
        cloned for every fold; default :func:`default_novelty`.
    kind
        ``auto`` (classes or a number, from the column), ``class`` or ``number``.
    coverage
        Nominal coverage of a numeric bundle's interval, or of a class bundle's prediction sets
        (conformal, calibrated on the study-held-out predictions).
    """
    if not 0 < unknown_rate < 1:
        raise SrnaParameterError(f"unknown_rate must be between 0 and 1, got {unknown_rate}")
    selection = TargetSelection.of(target, min_studies=2)
    target = selection.target
    if target_kind(atlas, target, kind) == "number":
        if protocol != "grouped":
            raise SrnaParameterError(f"protocol {protocol!r} is for classes; a numeric target's interval is set on held-out studies")
        return train_numeric_bundle(atlas, target, model, params, where=selection.where, n_splits=n_splits, coverage=coverage,
                                    unknown_rate=unknown_rate, min_share=min_share, imputation=imputation or "mean",
                                    min_coverage=min_coverage, novelty=novelty, seed=seed)
    imputation = imputation or DEFAULT_IMPUTATION.get(model, "mean")
    if imputation not in IMPUTATIONS:
        raise SrnaParameterError(f"imputation must be one of {', '.join(IMPUTATIONS)}, got {imputation!r}")
    data = selection.prepare(atlas)
    study_of = data.groups
    studies = int(len(set(study_of))) if study_of is not None else None
    if protocol == LEAVE_ONE_ATLAS_OUT:
        data = _atlas_groups(atlas, data)
    pipeline = make_model(model, params, input_scale=atlas.value_kind, min_share=min_share, seed=seed)
    classes = sorted(set(data.y))
    truth = np.searchsorted(classes, data.y)
    novelty = default_novelty() if novelty is None else novelty
    components = novelty.components_
    held_out = _cross_fit(data, pipeline, novelty, protocol, n_splits, seed, progress)
    learnt = held_out.learnt
    calibrator = TemperatureScaler().fit(held_out.raw[learnt], truth[learnt])
    sets = set_threshold(held_out.calibrated[learnt], truth[learnt], coverage)
    # Each score flags its share of held-out samples; together about unknown_rate of them.
    thresholds = np.quantile(held_out.novelty[learnt], 1 - unknown_rate / len(components), axis=0)
    within = held_out if conflict_protocol == protocol else _cross_fit(data, pipeline, novelty, conflict_protocol, n_splits, seed, progress)

    class_groups = _class_groups(atlas, data) if target == "tissue" else None
    held_out_table = label_table(data.sample_ids, held_out.calibrated, classes, held_out.novelty, thresholds,
                                 confidence_threshold, class_groups, components)
    out_of_fold = label_table(data.sample_ids, within.calibrated, classes, within.novelty, thresholds,
                              confidence_threshold, class_groups, components, sets)
    out_of_fold = flag_conflicts(out_of_fold, data.y, within.calibrated, classes)
    out_of_fold.insert(1, "study", study_of)
    out_of_fold.insert(2, "fold", within.fold)

    final = clone(pipeline).fit(data.X, data.y)
    scorer = clone(novelty).fit(final[:-1].transform(data.X), data.y)
    calibration = pd.concat([
        reliability_table(held_out.raw, truth).assign(probabilities="before calibration"),
        reliability_table(held_out.calibrated, truth).assign(probabilities="after calibration"),
    ], ignore_index=True)
    summary = HeldOutSummary(
        data=atlas.source + (" (simulated)" if atlas.simulated else ""),
        training_samples=int(len(data.y)), studies=studies,
        class_sizes={str(k): int(v) for k, v in pd.Series(data.y).value_counts().items()},
        cross_fitting=f"{_folds(protocol, n_splits, data)} (calibration, thresholds, held-out metrics); "
                      f"{conflict_protocol} {n_splits} folds (conflicts)",
        **_held_out_metrics(held_out_table, data.y, held_out, truth),
        conflicts=int(out_of_fold["conflict"].sum()),
        set_coverage=coverage, **_held_out_sets(held_out, truth, coverage),
    )
    return Bundle(
        target=target, model_name=model, pipeline=final, features=list(map(str, data.feature_names)),
        input_scale=atlas.value_kind, classes=list(classes), calibrator=calibrator, novelty=scorer,
        novelty_thresholds=[float(t) for t in thresholds], confidence_threshold=confidence_threshold,
        class_groups=class_groups, out_of_fold=out_of_fold, calibration=calibration, summary=summary,
        versions=package_versions(), seed=seed,
        feature_importance=[float(v) for v in input_reliance(final, data.X)],
        imputation=imputation, min_coverage=min_coverage, set_coverage=coverage, set_threshold=sets,
    )


@dataclass
class CrossFit:
    """Out-of-fold results of one protocol: raw and cross-calibrated probabilities, novelty scores, fold."""

    raw: np.ndarray
    calibrated: np.ndarray
    novelty: np.ndarray
    fold: np.ndarray
    #: True where the sample's class was among its fold's training classes.
    learnt: np.ndarray


#: The cross-fitting that holds out whole atlases of a :func:`~srna_nb.atlas.concat_atlases` result.
LEAVE_ONE_ATLAS_OUT = "leave_one_atlas_out"


def _folds(protocol: str, n_splits: int, data) -> str:
    if protocol == LEAVE_ONE_ATLAS_OUT:
        return f"{protocol} ({len(set(data.groups))} atlases)"
    if protocol == "leave_one_study_out":
        return f"{protocol} ({len(set(data.groups))} studies)"
    return f"{protocol} {n_splits} folds"


def _atlas_groups(atlas: Atlas, data):
    """``data`` grouped by atlas instead of study, for the leave-one-atlas-out cross-fitting."""
    if "atlas" not in atlas.samples.columns:
        raise SrnaParameterError(f"protocol {LEAVE_ONE_ATLAS_OUT!r} needs an 'atlas' column (concat_atlases adds one)")
    groups = atlas.labels("atlas").loc[data.sample_ids].to_numpy(dtype=object)
    if len(set(groups)) < 2:
        raise SrnaParameterError(f"protocol {LEAVE_ONE_ATLAS_OUT!r} needs samples of at least 2 atlases, got {len(set(groups))}")
    return replace(data, groups=groups)


def _cross_fit(data, pipeline, novelty, protocol: str, n_splits: int, seed: int, progress: bool) -> CrossFit:
    name = "model"
    if protocol == LEAVE_ONE_ATLAS_OUT:
        protocol = "leave_one_study_out"  # data.groups are atlases (_atlas_groups)
    result = evaluate(data, {name: pipeline}, [protocol], n_splits=n_splits, seed=seed, keep_models=True, progress=progress)
    classes = np.asarray(result.classes, dtype=object)
    truth = np.searchsorted(result.classes, data.y)
    raw = np.zeros((len(data.y), len(classes)))
    scores = np.zeros((len(data.y), len(novelty.components_)))
    fold_of = np.zeros(len(data.y), dtype=int)
    learnt = np.ones(len(data.y), dtype=bool)
    folds = split_indices(data, protocol, n_splits, seed)  # the folds evaluate() used: same data, protocol and seed
    for fold, (train, test) in enumerate(folds):
        raw[test] = result.probabilities[(result.predictions["fold"] == fold).to_numpy()]
        fold_of[test] = fold
        learnt[test] = np.isin(data.y[test], data.y[train])
        fitted = result.fitted.pop((name, protocol, fold))
        scorer = clone(novelty).fit(fitted[:-1].transform(data.X[train]), data.y[train])
        scores[test] = scorer.score_samples(fitted[:-1].transform(data.X[test]), classes[np.argmax(raw[test], axis=1)])
    calibrated = np.zeros_like(raw)
    for fold in range(len(folds)):
        # Each fold's probabilities are calibrated with a temperature fitted on the other folds only.
        mine = fold_of == fold
        calibrated[mine] = TemperatureScaler().fit(raw[~mine & learnt], truth[~mine & learnt]).transform(raw[mine])
    return CrossFit(raw, calibrated, scores, fold_of, learnt)


def _held_out_metrics(table: pd.DataFrame, y: np.ndarray, held_out: CrossFit, truth: np.ndarray) -> dict:
    predicted = table["predicted"].to_numpy()
    confident = (table["status"] == "confident").to_numpy()
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "balanced_accuracy": float(balanced_accuracy_score(y, predicted)),
        "ece_before": float(expected_calibration_error(held_out.raw, truth)),
        "ece_after": float(expected_calibration_error(held_out.calibrated, truth)),
        "confident_share": float(confident.mean()),
        "confident_accuracy": float((predicted[confident] == y[confident]).mean()) if confident.any() else float("nan"),
        "unknown_share": float((table["status"] == "unknown").mean()),
    }


def _held_out_sets(held_out: CrossFit, truth: np.ndarray, coverage: float) -> dict:
    """Coverage and mean size of prediction sets on held-out studies, each fold's threshold from the other folds."""
    covered = np.zeros(len(truth), dtype=bool)
    sizes = np.zeros(len(truth))
    for fold in np.unique(held_out.fold):
        mine = held_out.fold == fold
        members = set_members(held_out.calibrated[mine], set_threshold(held_out.calibrated[~mine], truth[~mine], coverage))
        covered[mine] = members[np.arange(mine.sum()), truth[mine]]
        sizes[mine] = members.sum(axis=1)
    return {"held_out_set_coverage": float(covered.mean()), "mean_set_size": float(sizes.mean())}


def _class_groups(atlas: Atlas, data) -> dict[str, str] | None:
    """Tissue -> tissue group, as the training sheet pairs them (the most frequent pairing)."""
    if "tissue_group" not in atlas.samples.columns:
        return None
    sheet = atlas.samples.loc[data.sample_ids, ["tissue", "tissue_group"]].dropna()
    return {str(k): str(v) for k, v in sheet.groupby("tissue")["tissue_group"].agg(lambda s: s.mode().iat[0]).items()}
