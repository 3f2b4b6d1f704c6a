"""One importance study: fit each model on training studies, explain it on held-out studies.

Importances are computed on samples the model never saw (the test part of one fold of the
chosen protocol, held-out studies by default), so that they describe what generalizes rather
than what the model memorized. Every method's result lands in one tidy table.

Numeric targets (:class:`~srna_nb.regression.NumericTarget`, regressors) get the same study:
permutation importance is the increase of the mean absolute error, gradient attributions are
contributions to the predicted value in the target's units, ranked by their mean magnitude; the
table has one "class", ``(all)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from srna_nb.errors import SrnaParameterError
from srna_nb.evaluation import split_indices
from srna_nb.files import write_csv
from srna_nb.explain.compare import marker_precision, method_agreement, precision_summary, top_features
from srna_nb.targets import class_indices
from srna_nb.explain.gradients import METHODS as GRADIENT_METHODS
from srna_nb.explain.gradients import (attributions, completeness_gap, mean_absolute_attributions, mean_by_class,
                                      regression_attributions, sample_attributions)
from srna_nb.explain.permutation import ALL_CLASSES, permutation_importance, regression_permutation_importance
from srna_nb.regression import NumericTarget
from srna_nb.regression import split_indices as numeric_split_indices
from srna_nb.targets import TargetData

METHODS = ("permutation", *GRADIENT_METHODS)


@dataclass
class ImportanceStudy:
    """Results of :func:`importance_study`.

    Attributes
    ----------
    target
        What the models predict.
    importances
        Tidy table: ``model``, ``method``, ``class`` (``(all)`` = overall permutation score),
        ``feature``, ``importance``, ``std``.
    held_out
        Test samples: ``sample_id``, ``study``, ``true``, and per model ``predicted <model>``.
    timings
        Seconds per model x method (``fit`` included).
    completeness
        Per gradient method: median and largest absolute gap between the sum of a sample's
        attributions and its score difference to the baseline, and the median score difference.
    inputs, feature_names, fitted
        Per model: held-out classifier inputs, their feature names, the fitted pipeline.
    """

    target: str
    importances: pd.DataFrame
    held_out: pd.DataFrame
    timings: pd.DataFrame
    completeness: pd.DataFrame
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    feature_names: dict[str, list[str]] = field(default_factory=dict)
    fitted: dict = field(default_factory=dict)
    numeric: bool = False

    def accuracy(self) -> pd.Series:
        """Held-out accuracy of each model (the score permutation importance starts from); for a
        numeric target, the mean absolute error instead."""
        if self.numeric:
            return pd.Series({model: float(np.mean(np.abs(self.held_out[f"predicted {model}"] - self.held_out["true"])))
                              for model in self.fitted}, name="held-out MAE")
        return pd.Series({model: float(np.mean(self.held_out[f"predicted {model}"] == self.held_out["true"]))
                          for model in self.fitted}, name="held-out accuracy")

    def largest_classes(self, n: int = 6) -> list:
        """The ``n`` classes with most held-out samples."""
        return list(self.held_out["true"].value_counts().index[:n])

    def top_features(self, k: int = 10) -> pd.DataFrame:
        return top_features(self.importances, k)

    def top_table(self, model: str, method: str, k: int = 10) -> pd.DataFrame:
        """Rank x class: the top ``k`` sRNAs of each class for one model and method."""
        top = self.top_features(k)
        top = top[(top["model"] == model) & (top["method"] == method)]
        return top.pivot(index="rank", columns="class", values="feature")

    def agreement(self, k: int = 20) -> pd.DataFrame:
        return method_agreement(self.importances, k)

    def agreement_summary(self, k: int = 20) -> pd.DataFrame:
        """Mean rank correlation and top-k overlap over classes, per pair of sources."""
        table = self.agreement(k)
        return table.groupby(["source", "compared with"], sort=False)[["spearman", f"top_{k}_overlap"]].mean()

    def marker_precision(self, truth, k: int = 10) -> pd.DataFrame:
        return marker_precision(self.importances, truth, self.target, k)

    def key_figures(self, truth=None, k: int = 10) -> dict[str, str]:
        """Held-out accuracy per model and, on simulated data, mean marker precision@k per source."""
        scores = self.accuracy()
        figures = {str(scores.name): ", ".join(f"{model} {value:.3f}" for model, value in scores.items())}
        if truth is not None and not self.importances.empty:
            summary = precision_summary(self.marker_precision(truth, k))
            figures[f"planted-marker precision@{k} per class"] = ", ".join(
                f"{source} {value:.2f}" for source, value in summary["mean_precision"].items())
            figures["expected by chance"] = f"{summary['expected_by_chance'].mean():.3f}"
        return figures

    def eli5_html(self, model: str, label: str = "(all)", method: str = "permutation", top: int = 20) -> str:
        """eli5's HTML rendering (weight +- 2 SD) of one class' importances."""
        import eli5
        from eli5.base import Explanation, FeatureImportances, FeatureWeight

        part = self.importances.query("model == @model and method == @method and `class` == @label")
        if part.empty:
            raise SrnaParameterError(f"no {method} importances for model {model!r}, class {label!r}")
        part = part.sort_values("importance", ascending=False)
        if not part["importance"].abs().max() > 0:  # eli5 scales colours by the largest weight
            return f"<p>No sRNA changed the {method} score of class {label} for model {model}.</p>"
        weights = [FeatureWeight(row.feature, row.importance, std=row.std) for row in part.head(top).itertuples()]
        explanation = Explanation(
            estimator=model, method=f"{method} importance, class {label}",
            feature_importances=FeatureImportances(importances=weights, remaining=max(len(part) - top, 0)),
        )
        return eli5.format_as_html(explanation, show=eli5.formatters.fields.WEIGHTS)

    def sample_attributions(self, model: str, sample_ids: Sequence[str] | None = None, method: str = "integrated_gradients", **options) -> pd.DataFrame:
        """Samples x sRNAs: contributions to each held-out sample's predicted class."""
        if model not in self.inputs:
            raise SrnaParameterError(f"unknown model {model!r}; the study has {', '.join(self.inputs)}")
        ids = self.held_out["sample_id"]
        rows = np.arange(len(ids)) if sample_ids is None else np.flatnonzero(ids.isin(list(sample_ids)).to_numpy())
        return sample_attributions(
            self.fitted[model][-1], self.inputs[model][rows], sample_ids=ids.to_numpy()[rows], method=method,
            feature_names=self.feature_names[model], **options,
        )

    def sample_top_features(self, model: str, sample_ids: Sequence[str], k: int = 8, method: str = "integrated_gradients") -> pd.DataFrame:
        """Per sample: the ``k`` sRNAs that pushed most towards its predicted class, with their attributions."""
        table = self.sample_attributions(model, sample_ids, method=method)
        explained = table.pop("explained class")
        rows = []
        for sample_id, values in table.iterrows():
            top = values.nlargest(k)
            rows += [{"sample_id": sample_id, "explained class": explained[sample_id], "rank": rank + 1, "feature": feature,
                      "attribution": value} for rank, (feature, value) in enumerate(top.items())]
        return pd.DataFrame(rows)

    def example_explanations(self, n_samples: int = 4, k: int = 8) -> pd.DataFrame | None:
        """Rank x (sample, true class): top sRNAs of one held-out sample per class (first ``n_samples`` classes).

        Uses the first model and gradient method of the study; None when it computed none.
        """
        gradients = self.importances[self.importances["method"] != "permutation"]
        if gradients.empty:
            return None
        model, method = gradients.iloc[0][["model", "method"]]
        examples = self.held_out.groupby("true", sort=False).head(1)["sample_id"].head(n_samples)
        top = self.sample_top_features(model, examples, k, method).merge(self.held_out[["sample_id", "true"]], on="sample_id")
        table = top.pivot(index="rank", columns=["sample_id", "true", "explained class"], values="feature")
        table.columns.names = ["sample", "true", f"explained ({model} {method})"]
        return table

    def write(self, folder: str | Path | None, truth=None, k: int = 10) -> list[Path]:
        """CSV tables into ``folder`` (nothing when None): importances, top features, agreement, precision."""
        if folder is None:
            return []
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tables = {"importances": self.importances, "top_features": self.top_features(k), "agreement": self.agreement(),
                  "held_out_predictions": self.held_out, "timings": self.timings}
        if truth is not None:
            tables["marker_precision"] = self.marker_precision(truth, k)
        written = []
        for name, table in tables.items():
            written.append(write_csv(table, folder / f"{self.target}_{name}.csv"))
        return written


def importance_study(
    data: TargetData | NumericTarget,
    estimators: Mapping[str, object],
    *,
    methods: Sequence[str] = METHODS,
    n_repeats: int = 3,
    protocol: str = "grouped",
    n_splits: int = 5,
    steps: int = 64,
    seed: int = 0,
    progress: bool = True,
) -> ImportanceStudy:
    """Fit each pipeline on the training part of one fold and explain it on the test part.

    Parameters
    ----------
    data
        Prepared target (:func:`~srna_nb.targets.prepare_target`), or a numeric one
        (:func:`~srna_nb.regression.prepare_numeric_target`) with regressors as ``estimators``.
    estimators
        Model name -> unfitted pipeline (:func:`~srna_nb.models.make_model`); cloned, never fitted in place
        (the fitted copies are in ``study.fitted``).
    methods
        ``permutation`` (every model) and gradient methods (models with ``dense_layers()``;
        others are skipped).
    n_repeats
        Permutations per feature.
    protocol, n_splits, seed
        Which fold: the first test fold of this protocol (``grouped``: whole studies held out).
    steps
        Integration points of integrated gradients.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise SrnaParameterError(f"unknown importance method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    numeric = isinstance(data, NumericTarget)
    train, test = (numeric_split_indices if numeric else split_indices)(data, protocol, n_splits, seed)[0]
    held_out = pd.DataFrame({"sample_id": data.sample_ids[test], "study": None if data.groups is None else data.groups[test],
                             "true": data.y[test]})
    jobs = [(model, method) for model in estimators for method in ("fit", *methods)]
    bar = tqdm(jobs, disable=not progress, desc=f"importance of {data.target}")
    parts, timings, gaps = [], [], []
    study = ImportanceStudy(data.target, pd.DataFrame(), held_out, pd.DataFrame(), pd.DataFrame(), numeric=numeric)
    # One BLAS thread: multi-threaded float64 products may split sums differently from run to run,
    # and the study must be repeatable to the last digit.
    with threadpool_limits(limits=1, user_api="blas"):
        for model, method in bar:
            bar.set_postfix_str(f"{model} {method}")
            started = time.perf_counter()
            if method == "fit":
                _fit(study, estimators[model], model, data, train, test)
            else:
                table = _importances(study, model, method, data.y[test], n_repeats, steps, seed, gaps)
                if table is None:
                    continue
                parts.append(table.assign(model=model, method=method))
            timings.append({"model": model, "method": method, "seconds": time.perf_counter() - started})
    columns = ["model", "method", "class", "feature", "importance", "std"]
    study.importances = pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    study.timings = pd.DataFrame(timings)
    study.completeness = pd.DataFrame(gaps)
    return study


def _fit(study: ImportanceStudy, estimator, model: str, data: TargetData, train: np.ndarray, test: np.ndarray) -> None:
    pipeline = clone(estimator).fit(data.X[train], data.y[train])  # the caller's estimator stays unfitted, as in evaluate
    study.fitted[model] = pipeline
    study.inputs[model] = pipeline[:-1].transform(data.X[test]).astype(np.float32)
    study.feature_names[model] = list(pipeline[:-1].get_feature_names_out(data.feature_names))
    study.held_out[f"predicted {model}"] = pipeline[-1].predict(study.inputs[model])


def _importances(study: ImportanceStudy, model: str, method: str, y: np.ndarray, n_repeats: int, steps: int, seed: int,
                 gaps: list) -> pd.DataFrame | None:
    """One method's per-class table for one fitted model (None: the method does not apply to it)."""
    classifier, X, names = study.fitted[model][-1], study.inputs[model], study.feature_names[model]
    if study.numeric:
        return _numeric_importances(classifier, X, y, names, method, n_repeats, steps, seed, gaps)
    if method == "permutation":
        table = permutation_importance(classifier, X, y, n_repeats=n_repeats, random_state=seed, feature_names=names)
        return table[["class", "feature", "importance", "std"]]
    if not hasattr(classifier, "dense_layers"):
        return None
    known = class_indices(classifier, y, allow_unknown=True) >= 0  # a class absent from training has no score
    X, y = X[known], y[known]
    targets = class_indices(classifier, y)
    values = attributions(classifier, X, targets, method=method, steps=steps)
    gaps.append(_completeness(classifier, X, targets, values, method))
    return mean_by_class(values, y, names)[["class", "feature", "importance", "std"]]


def _numeric_importances(regressor, X: np.ndarray, y: np.ndarray, names: list[str], method: str, n_repeats: int, steps: int,
                         seed: int, gaps: list) -> pd.DataFrame | None:
    """A regressor's table: MAE increase when permuted, or mean |contribution| to the predicted value."""
    if method == "permutation":
        table = regression_permutation_importance(regressor, X, y, n_repeats=n_repeats, random_state=seed, feature_names=names)
        return table[["class", "feature", "importance", "std"]]
    if not hasattr(regressor, "dense_layers"):
        return None
    values = regression_attributions(regressor, X, method=method, steps=steps)
    gaps.append(_completeness(regressor, X, np.zeros(len(X), dtype=np.intp), values, method))
    return mean_absolute_attributions(values, names).assign(**{"class": ALL_CLASSES})[["class", "feature", "importance", "std"]]


def _completeness(classifier, X: np.ndarray, targets: np.ndarray, values: np.ndarray, method: str) -> dict:
    gap = completeness_gap(classifier, X, targets, values)
    difference = values.sum(axis=1) - gap
    return {"method": method, "median |gap|": float(np.median(np.abs(gap))), "max |gap|": float(np.abs(gap).max()),
            "median |score difference|": float(np.median(np.abs(difference)))}
