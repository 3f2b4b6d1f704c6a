"""Permutation importance: the drop in accuracy when one sRNA's values are shuffled across samples.

Features are permuted at the classifier's input (after preprocessing), i.e. an sRNA's normalized,
scaled level is shuffled while every other sRNA stays put. The permutations are exactly those of
eli5's :class:`~eli5.sklearn.PermutationImportance` for the same ``random_state`` (one
``RandomState`` stream, columns in order, repeat after repeat), so the fast paths can be checked
against eli5 number for number. Estimators that can predict permuted inputs faster than by
re-predicting everything offer ``iter_permuted_proba(X, permutations)``; others go through eli5.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from srna_nb.errors import SrnaParameterError
from srna_nb.explain.common import feature_labels
from srna_nb.targets import class_indices


def shuffle_orders(n_samples: int, n_features: int, n_repeats: int, random_state: int | None = 0) -> np.ndarray:
    """Row orders (n_repeats, n_features, n_samples) that eli5 uses for the same ``random_state``.

    eli5 shuffles each column in place with one ``RandomState``; shuffling ``arange(n)`` with
    the same stream draws the same numbers, hence the same permutation.
    """
    rng = check_random_state(random_state)
    orders = np.empty((n_repeats, n_features, n_samples), dtype=np.intp)
    for repeat in range(n_repeats):
        for column in range(n_features):
            order = np.arange(n_samples)
            rng.shuffle(order)
            orders[repeat, column] = order
    return orders


#: Label of the overall (all classes) score in importance tables.
ALL_CLASSES = "(all)"


def permutation_importance(
    classifier,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
    feature_names=None,
    method: str = "auto",
    per_class: bool = True,
) -> pd.DataFrame:
    """Score decrease per feature when that feature is permuted, overall and per class.

    The overall score is accuracy (eli5's ``scoring="accuracy"``). The score of a class is the
    balanced accuracy of its one-vs-rest decision (predicted as the class or not, against
    being the class or not): it falls when permuting an sRNA makes the class' samples
    unrecognised *or* makes other samples look like the class.

    Parameters
    ----------
    classifier
        A fitted classifier whose inputs are ``X`` (for a pipeline: its last step, with ``X``
        the output of the preprocessing steps).
    X, y
        Held-out inputs and labels to score on.
    n_repeats, random_state
        Permutations per feature, and their seed (eli5's meaning: the same permutations).
    method
        ``fast`` (the estimator's exact shortcut ``iter_permuted_proba``), ``full`` (re-predict
        every permuted matrix, as eli5 does), ``eli5`` (eli5's own PermutationImportance;
        overall score only), or ``auto`` (fast when the estimator has it, else full).
    per_class
        Also score each class one-vs-rest (not with ``method="eli5"``).

    Returns
    -------
    Tidy table ``class`` (:data:`ALL_CLASSES` for the overall score), ``feature``,
    ``importance`` (mean decrease over repeats), ``std`` and one column per repeat; within each
    class sorted by importance, largest first.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    has_fast = hasattr(classifier, "iter_permuted_proba")
    if method not in ("auto", "fast", "full", "eli5"):
        raise SrnaParameterError(f"method must be auto, fast, full or eli5, got {method!r}")
    if method == "fast" and not has_fast:
        raise SrnaParameterError(f"{type(classifier).__name__} has no fast permutation path; use method='full' or 'eli5'")
    if method == "eli5" and per_class:
        raise SrnaParameterError("eli5 scores all classes together; use per_class=False with method='eli5'")
    names = feature_labels(feature_names, X.shape[1])
    if method == "eli5":
        return _tidy({ALL_CLASSES: _eli5_decreases(classifier, X, y, n_repeats, random_state)}, names)
    classes = np.asarray(classifier.classes_)
    truth = class_indices(classifier, y, allow_unknown=True)  # unknown classes count as errors, as in eli5
    size = np.bincount(truth[truth >= 0], minlength=len(classes))
    present = np.flatnonzero(size) if per_class else np.array([], dtype=np.intp)
    others = np.maximum(len(y) - size[present], 1)

    def scores(proba: np.ndarray) -> np.ndarray:
        predicted = np.argmax(proba, axis=1)
        hits = predicted == truth
        flagged = np.bincount(predicted, minlength=len(classes))[present]
        correct = np.bincount(predicted[hits], minlength=len(classes))[present]
        balanced = (correct / size[present] + 1.0 - (flagged - correct) / others) / 2
        return np.concatenate([[hits.mean()], balanced])

    base = scores(classifier.predict_proba(X))
    orders = shuffle_orders(X.shape[0], X.shape[1], n_repeats, random_state)
    decreases = np.empty((1 + len(present), n_repeats, X.shape[1]))
    permuted = classifier.iter_permuted_proba(X, orders) if method in ("auto", "fast") and has_fast else _iter_full_proba(classifier, X, orders)
    for repeat, column, proba in permuted:
        decreases[:, repeat, column] = base - scores(proba)
    return _tidy(dict(zip([ALL_CLASSES, *classes[present]], decreases)), names)


def regression_permutation_importance(
    regressor,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
    feature_names=None,
    method: str = "auto",
) -> pd.DataFrame:
    """Increase of the mean absolute error (in the target's units) when one feature is permuted.

    The regressors' counterpart of :func:`permutation_importance`, with the same permutations
    (eli5's for ``random_state``) and the same exact fast paths: estimators with
    ``iter_permuted_predictions`` (the MLP's rank-one update, the forest's trees that split on
    the feature) skip re-predicting everything; ``full`` re-predicts every permuted matrix.

    Returns
    -------
    The tidy table of :func:`permutation_importance` with one "class", :data:`ALL_CLASSES`:
    ``importance`` is the mean MAE increase over repeats (positive: the feature helps).
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float64)
    has_fast = hasattr(regressor, "iter_permuted_predictions")
    if method not in ("auto", "fast", "full"):
        raise SrnaParameterError(f"method must be auto, fast or full, got {method!r}")
    if method == "fast" and not has_fast:
        raise SrnaParameterError(f"{type(regressor).__name__} has no fast permutation path; use method='full'")
    base = np.mean(np.abs(regressor.predict(X) - y))
    orders = shuffle_orders(X.shape[0], X.shape[1], n_repeats, random_state)
    increases = np.empty((n_repeats, X.shape[1]))
    permuted = (regressor.iter_permuted_predictions(X, orders) if method != "full" and has_fast
                else _iter_full(regressor.predict, X, orders))
    for repeat, column, predicted in permuted:
        increases[repeat, column] = np.mean(np.abs(predicted - y)) - base
    return _tidy({ALL_CLASSES: increases}, feature_labels(feature_names, X.shape[1]))


def _iter_full_proba(classifier, X: np.ndarray, orders: np.ndarray):
    """What eli5 does: permute one column in place, re-predict everything, restore the column."""
    return _iter_full(classifier.predict_proba, X, orders)


def _iter_full(predict, X: np.ndarray, orders: np.ndarray):
    permuted = X.copy()
    for repeat, columns in enumerate(orders):
        for column, order in enumerate(columns):
            permuted[:, column] = X[order, column]
            yield repeat, column, predict(permuted)
            permuted[:, column] = X[:, column]


def _tidy(decreases: dict, names: list[str]) -> pd.DataFrame:
    parts = []
    for label, values in decreases.items():
        part = pd.DataFrame(values.T, columns=[f"repeat {r + 1}" for r in range(values.shape[0])])
        part.insert(0, "std", values.std(axis=0))
        part.insert(0, "importance", values.mean(axis=0))
        part.insert(0, "feature", names)
        part.insert(0, "class", label)
        parts.append(part.sort_values("importance", ascending=False, kind="stable"))
    return pd.concat(parts, ignore_index=True)


def _eli5_decreases(classifier, X, y, n_repeats, random_state) -> np.ndarray:
    from eli5.sklearn import PermutationImportance

    permuter = PermutationImportance(classifier, scoring="accuracy", n_iter=n_repeats, random_state=random_state, cv="prefit")
    permuter.fit(X, y)
    return np.asarray(permuter.results_)
