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


def permutation_importance(
    classifier,
    X: np.ndarray,
    y: np.ndarray,
    *,
    n_repeats: int = 3,
    random_state: int = 0,
    feature_names=None,
    method: str = "auto",
) -> pd.DataFrame:
    """Accuracy decrease per feature when that feature is permuted.

    Parameters
    ----------
    classifier
        A fitted classifier whose inputs are ``X`` (for a pipeline: its last step, with ``X``
        the output of the preprocessing steps).
    X, y
        Held-out inputs and labels to score on.
    n_repeats, random_state
        Permutations per feature, and their seed (eli5's meaning).
    method
        ``fast`` (the estimator's exact shortcut), ``eli5`` (eli5's PermutationImportance), or
        ``auto`` (fast when the estimator has one).

    Returns
    -------
    DataFrame indexed by feature: ``importance`` (mean decrease), ``std`` and one column per repeat.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    has_fast = hasattr(classifier, "iter_permuted_proba")
    if method not in ("auto", "fast", "eli5"):
        raise SrnaParameterError(f"method must be auto, fast or eli5, got {method!r}")
    if method == "fast" and not has_fast:
        raise SrnaParameterError(f"{type(classifier).__name__} has no fast permutation path; use method='eli5'")
    if method == "eli5" or (method == "auto" and not has_fast):
        decreases = _eli5_decreases(classifier, X, y, n_repeats, random_state)
    else:
        base = float(np.mean(classifier.predict(X) == y))
        orders = shuffle_orders(X.shape[0], X.shape[1], n_repeats, random_state)
        decreases = np.empty((n_repeats, X.shape[1]))
        classes = np.asarray(classifier.classes_)
        for repeat, column, proba in classifier.iter_permuted_proba(X, orders):
            decreases[repeat, column] = base - float(np.mean(classes[np.argmax(proba, axis=1)] == y))
    names = pd.Index(feature_names if feature_names is not None else [f"x{i}" for i in range(X.shape[1])], name="feature")
    table = pd.DataFrame(decreases.T, index=names, columns=[f"repeat {r + 1}" for r in range(n_repeats)])
    table.insert(0, "std", decreases.std(axis=0))
    table.insert(0, "importance", decreases.mean(axis=0))
    return table.sort_values("importance", ascending=False)


def _eli5_decreases(classifier, X, y, n_repeats, random_state) -> np.ndarray:
    from eli5.sklearn import PermutationImportance

    permuter = PermutationImportance(classifier, scoring="accuracy", n_iter=n_repeats, random_state=random_state, cv="prefit")
    permuter.fit(X, y)
    return np.asarray(permuter.results_)
