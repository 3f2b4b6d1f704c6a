"""Honest evaluation: stratified cross-validation and held-out studies, as tidy tables.

``stratified`` (k-fold, stratified by class) measures how well a model recognises samples like
the ones it was trained on. ``grouped`` (k-fold over studies, stratified as far as groups allow)
and ``leave_one_study_out`` never put a study in both training and test: they measure the
paper's "completely new dataset" case, the figure users care most about.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
)
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold, StratifiedKFold
from threadpoolctl import threadpool_limits

from srna_nb.errors import SrnaParameterError
from srna_nb.parallel import run_jobs
from srna_nb.targets import TargetData

PROTOCOLS = ("stratified", "grouped", "leave_one_study_out")
#: Protocols that hold out whole studies.
HELD_OUT_PROTOCOLS = ("grouped", "leave_one_study_out")
METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "log_loss")


def make_splitter(protocol: str, n_splits: int = 5, seed: int = 0):
    """The scikit-learn splitter of a protocol name."""
    if protocol == "stratified":
        return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    if protocol == "grouped":
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    if protocol == "leave_one_study_out":
        return LeaveOneGroupOut()
    raise SrnaParameterError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")


def split_indices(data: TargetData, protocol: str, n_splits: int = 5, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test positions of each fold, with checks that give one-line errors."""
    splitter = make_splitter(protocol, n_splits, seed)
    if protocol in HELD_OUT_PROTOCOLS:
        if data.groups is None:
            raise SrnaParameterError(f"protocol {protocol!r} holds out studies, but the data has no study column")
        n_studies = len(set(data.groups))
        if protocol == "grouped" and n_studies < n_splits:
            raise SrnaParameterError(f"protocol 'grouped' with {n_splits} folds needs at least {n_splits} studies, got {n_studies}")
    else:
        smallest = pd.Series(data.y).value_counts().min()
        if smallest < n_splits:
            raise SrnaParameterError(
                f"protocol 'stratified' with {n_splits} folds needs at least {n_splits} samples per class; "
                f"the smallest class has {smallest} (raise min_class_size or lower n_splits)"
            )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class" notes: handled above
        return [(train, test) for train, test in splitter.split(data.X, data.y, data.groups)]


@dataclass
class Evaluation:
    """Results of :func:`evaluate`, as tidy tables.

    Attributes
    ----------
    target, classes
        What was predicted, and all classes (the column order of ``probabilities``).
    scores
        One row per model x protocol x fold: sizes, metrics, fit time.
    predictions
        One row per model x protocol x test sample: fold, sample_id, study, true, predicted,
        confidence (probability of the predicted class).
    probabilities
        Array aligned with ``predictions``: class probabilities in ``classes`` order (zero for
        classes the fold's training data did not contain).
    fitted
        Fitted pipelines by (model, protocol, fold) when ``keep_models=True``.
    """

    target: str
    classes: list[str]
    scores: pd.DataFrame
    predictions: pd.DataFrame
    probabilities: np.ndarray
    fitted: dict[tuple[str, str, int], Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per model x protocol: mean and SD over folds, and metrics of the pooled predictions."""
        grouped = self.scores.groupby(["model", "protocol"], sort=False)
        table = grouped[list(METRICS)].agg(["mean", "std"])
        table.columns = [f"{metric} {stat}" for metric, stat in table.columns]
        pooled = {
            key: _metrics(part["true"].to_numpy(), part["predicted"].to_numpy(), self.probabilities[part.index.to_numpy()], self.classes)
            for key, part in self.predictions.groupby(["model", "protocol"], sort=False)
        }
        pooled = pd.DataFrame.from_dict(pooled, orient="index").add_prefix("pooled ")
        pooled.index = pd.MultiIndex.from_tuples(pooled.index, names=["model", "protocol"])
        table = table.join(pooled)
        table["folds"] = grouped.size()
        table["samples"] = self.predictions.groupby(["model", "protocol"], sort=False).size()
        return table

    def accuracy_table(self, metric: str = "accuracy") -> pd.DataFrame:
        """Protocols x models of the pooled ``metric``: the paper's comparison in one table."""
        summary = self.summary()[f"pooled {metric}"]
        return summary.unstack("model").rename_axis(index="protocol", columns="model")

    def key_figures(self, metric: str = "accuracy") -> dict[str, str]:
        """Per protocol, the pooled ``metric`` of every model as one line (for the report index)."""
        table = self.accuracy_table(metric)
        return {f"{metric}, {protocol}": ", ".join(f"{model} {value:.3f}" for model, value in row.items())
                for protocol, row in table.iterrows()}

    def _part(self, model: str, protocol: str) -> pd.DataFrame:
        part = self.predictions[(self.predictions["model"] == model) & (self.predictions["protocol"] == protocol)]
        if part.empty:
            raise SrnaParameterError(f"no predictions for model {model!r} with protocol {protocol!r}")
        return part

    def per_class(self, model: str, protocol: str) -> pd.DataFrame:
        """Precision, recall (= per-class accuracy), F1 and support of each class, pooled over folds."""
        part = self._part(model, protocol)
        precision, recall, f1, support = precision_recall_fscore_support(
            part["true"], part["predicted"], labels=self.classes, zero_division=0
        )
        return pd.DataFrame(
            {"precision": precision, "recall": recall, "f1": f1, "support": support}, index=pd.Index(self.classes, name="class")
        )

    def confusion(self, model: str, protocol: str, normalize: str | None = None) -> pd.DataFrame:
        """Pooled confusion matrix (rows: true class, columns: predicted); ``normalize='true'`` for row shares."""
        part = self._part(model, protocol)
        matrix = confusion_matrix(part["true"], part["predicted"], labels=self.classes, normalize=normalize)
        return pd.DataFrame(matrix, index=pd.Index(self.classes, name="true"), columns=pd.Index(self.classes, name="predicted"))

    def per_class_table(self, protocol: str, metric: str = "recall") -> pd.DataFrame:
        """Classes x models of one per-class metric (``precision``, ``recall``, ``f1``)."""
        models = self.scores["model"].unique()
        return pd.DataFrame({model: self.per_class(model, protocol)[metric] for model in models})

    def write(self, directory: str | Path | None) -> list[Path]:
        """Write scores, summary, predictions and the paper-style table as CSV into ``directory``.

        ``paper_summary.csv`` (rows: target x protocol, columns: models, pooled accuracy) is
        what ``srna-nb run`` collects on the report index. Nothing is written for None.
        """
        if directory is None:
            return []
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tables = {
            f"{self.target}_scores.csv": (self.scores, False),
            f"{self.target}_summary.csv": (self.summary(), True),
            f"{self.target}_predictions.csv": (self.predictions, False),
            "paper_summary.csv": (paper_style_summary([self]), True),
        }
        for name, (table, index) in tables.items():
            table.to_csv(directory / name, index=index)
        return [directory / name for name in tables]


def _metrics(true: np.ndarray, predicted: np.ndarray, probabilities: np.ndarray, classes: list[str]) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # classes predicted but absent from a fold's truth
        return {
            "accuracy": accuracy_score(true, predicted),
            "balanced_accuracy": balanced_accuracy_score(true, predicted),
            "macro_f1": f1_score(true, predicted, average="macro", labels=sorted(set(true)), zero_division=0),
            "log_loss": log_loss(true, np.clip(probabilities, 1e-7, 1.0), labels=classes),
        }


def evaluate(
    data: TargetData,
    models: Mapping[str, Any],
    protocols: Iterable[str] = ("stratified", "grouped"),
    *,
    n_splits: int = 5,
    seed: int = 0,
    keep_models: bool = False,
    progress: bool = True,
) -> Evaluation:
    """Fit and test every model on every fold of every protocol.

    Parameters
    ----------
    data
        From :func:`srna_nb.targets.prepare_target`.
    models
        Name -> unfitted estimator or pipeline (cloned for every fold), e.g. from
        :func:`srna_nb.models.make_model`.
    protocols
        Any of ``stratified``, ``grouped``, ``leave_one_study_out``.
    n_splits, seed
        Folds of the k-fold protocols and the seed of their shuffling.
    keep_models
        Keep each fold's fitted pipeline (memory!) in ``Evaluation.fitted``.
    progress
        Show a progress bar over folds and models (notebook-aware).

    Folds x models x protocols are independent jobs: they run serially unless the call sits inside
    :func:`srna_nb.parallel.use` (local processes or a Dask cluster), with identical results.
    """
    from tqdm.auto import tqdm

    classes = sorted(set(data.y))
    class_position = {c: i for i, c in enumerate(classes)}
    folds = {protocol: split_indices(data, protocol, n_splits, seed) for protocol in protocols}
    jobs = [(protocol, fold, name) for protocol in folds for fold in range(len(folds[protocol])) for name in models]
    # Each job clones its model itself: a clone made here would stay referenced by the job list and,
    # fitted in place by a serial run, keep every fold's fitted model (RF forests!) alive until the end.
    outcomes = run_jobs(_fit_and_predict, [(models[name], data.X, data.y, *folds[protocol][fold], keep_models)
                                           for protocol, fold, name in jobs])
    score_rows, prediction_frames, probability_blocks, fitted = [], [], [], {}
    bar = tqdm(zip(jobs, outcomes), total=len(jobs), desc=f"{data.target}", disable=not progress, leave=False)
    for (protocol, fold, name), (estimator_classes, model_proba, fit_seconds, estimator) in bar:
        train, test = folds[protocol][fold]
        probabilities = np.zeros((len(test), len(classes)))
        probabilities[:, [class_position[c] for c in estimator_classes]] = model_proba
        predicted = np.asarray(estimator_classes)[np.argmax(model_proba, axis=1)]
        true = data.y[test]
        score_rows.append(
            {"model": name, "protocol": protocol, "fold": fold, "n_train": len(train), "n_test": len(test),
             "test_studies": len(set(data.groups[test])) if data.groups is not None else np.nan,
             **_metrics(true, predicted, probabilities, classes), "fit_seconds": fit_seconds}
        )
        prediction_frames.append(pd.DataFrame(
            {"model": name, "protocol": protocol, "fold": fold, "sample_id": data.sample_ids[test],
             "study": data.groups[test] if data.groups is not None else np.nan, "true": true,
             "predicted": predicted, "confidence": model_proba.max(axis=1)}
        ))
        probability_blocks.append(probabilities)
        if keep_models:
            fitted[(name, protocol, fold)] = estimator
    predictions = pd.concat(prediction_frames, ignore_index=True)
    return Evaluation(
        target=data.target, classes=classes, scores=pd.DataFrame(score_rows), predictions=predictions,
        probabilities=np.concatenate(probability_blocks), fitted=fitted,
    )


def _fit_and_predict(model, X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray, keep_model: bool):
    """One job: fit a clone of ``model`` on the training rows, predict the test rows (runs wherever
    :mod:`srna_nb.parallel` sends it).

    BLAS runs single-threaded inside a job, as it does in joblib's and Dask's workers: results are
    then identical wherever the job runs, and OpenBLAS' threads only slowed these small problems
    down (logistic regression on the default atlas: several times faster with one thread).
    """
    estimator = clone(model)
    with threadpool_limits(limits=1, user_api="blas"):
        started = time.perf_counter()
        estimator.fit(X[train], y[train])
        fit_seconds = time.perf_counter() - started
        proba = estimator.predict_proba(X[test])
    return np.asarray(estimator.classes_), proba, fit_seconds, estimator if keep_model else None


def paper_style_summary(evaluations: Iterable[Evaluation], metric: str = "accuracy") -> pd.DataFrame:
    """Rows: target x protocol; columns: models; cells: pooled ``metric`` (the study's table layout)."""
    tables = [e.accuracy_table(metric).assign(target=e.target).set_index("target", append=True) for e in evaluations]
    table = pd.concat(tables).reorder_levels(["target", "protocol"])
    return table
