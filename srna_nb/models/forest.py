"""Random forests: scikit-learn's, with the study's defaults and an exact fast permuted-prediction path."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.utils.validation import check_is_fitted, validate_data


class RFClassifier(RandomForestClassifier):
    """scikit-learn's random forest with the study's style of settings as defaults.

    500 trees, sqrt(p) features per split, fully grown trees, balanced class weights per
    bootstrap sample, all cores, seed 0. Every other
    :class:`~sklearn.ensemble.RandomForestClassifier` parameter is accepted, cloned and
    validated as scikit-learn does, with scikit-learn's default.
    """

    def __init__(
        self,
        n_estimators: int = 500,
        *,
        criterion="gini",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features="sqrt",
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        bootstrap=True,
        oob_score=False,
        n_jobs=-1,
        random_state=0,
        verbose=0,
        warm_start=False,
        class_weight="balanced_subsample",
        ccp_alpha=0.0,
        max_samples=None,
        monotonic_cst=None,
    ):
        super().__init__(
            n_estimators=n_estimators, criterion=criterion, max_depth=max_depth, min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf, min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features, max_leaf_nodes=max_leaf_nodes, min_impurity_decrease=min_impurity_decrease,
            bootstrap=bootstrap, oob_score=oob_score, n_jobs=n_jobs, random_state=random_state, verbose=verbose,
            warm_start=warm_start, class_weight=class_weight, ccp_alpha=ccp_alpha, max_samples=max_samples,
            monotonic_cst=monotonic_cst,
        )

    def iter_permuted_proba(self, X, permutations: np.ndarray):
        """Class probabilities with one column at a time replaced by a permutation of its rows.

        Exact up to float64 summation order: permuting feature ``j`` can only change trees that
        split on ``j``, so each tree's probabilities on the unpermuted data are computed once and
        only the trees using ``j`` are re-predicted. See :meth:`srna_nb.models.DLClassifier.iter_permuted_proba`
        for the arguments.
        """
        check_is_fitted(self, "estimators_")
        X = np.ascontiguousarray(validate_data(self, X, dtype=np.float32, reset=False))
        yield from _iter_permuted_forest(self.estimators_, X, permutations, lambda tree, rows: tree.predict_proba(rows, check_input=False))


def _iter_permuted_forest(trees, X: np.ndarray, permutations: np.ndarray, predict):
    """A forest's mean output with one column at a time permuted, re-predicting only the trees that split on it."""
    per_tree = [predict(tree, X) for tree in trees]
    total = np.sum(per_tree, axis=0, dtype=np.float64)
    users: dict[int, list[int]] = {}
    for index, tree in enumerate(trees):
        for feature in np.unique(tree.tree_.feature[tree.tree_.feature >= 0]):
            users.setdefault(int(feature), []).append(index)
    permuted = X.copy()
    for repeat, orders in enumerate(permutations):
        for column, order in enumerate(orders):
            using = users.get(column, [])
            if not using:
                yield repeat, column, total / len(trees)
                continue
            permuted[:, column] = X[order, column]
            changed = total.copy()
            for index in using:
                changed += predict(trees[index], permuted) - per_tree[index]
            permuted[:, column] = X[:, column]
            yield repeat, column, changed / len(trees)


class RFRegressor(RandomForestRegressor):
    """scikit-learn's random forest for numbers: 300 trees, a third of the features per split (the
    usual regression default), all cores, seed 0; every other parameter as scikit-learn has it."""

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        criterion="squared_error",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features=0.33,
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        bootstrap=True,
        oob_score=False,
        n_jobs=-1,
        random_state=0,
        verbose=0,
        warm_start=False,
        ccp_alpha=0.0,
        max_samples=None,
        monotonic_cst=None,
    ):
        super().__init__(
            n_estimators=n_estimators, criterion=criterion, max_depth=max_depth, min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf, min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features, max_leaf_nodes=max_leaf_nodes, min_impurity_decrease=min_impurity_decrease,
            bootstrap=bootstrap, oob_score=oob_score, n_jobs=n_jobs, random_state=random_state, verbose=verbose,
            warm_start=warm_start, ccp_alpha=ccp_alpha, max_samples=max_samples, monotonic_cst=monotonic_cst,
        )

    def iter_permuted_predictions(self, X, permutations: np.ndarray):
        """Predictions with one column at a time permuted: only trees splitting on it re-predict (exact, as
        :meth:`RFClassifier.iter_permuted_proba`)."""
        check_is_fitted(self, "estimators_")
        X = np.ascontiguousarray(validate_data(self, X, dtype=np.float32, reset=False))
        predict = lambda tree, rows: tree.predict(rows, check_input=False).reshape(len(rows), -1)  # noqa: E731
        for repeat, column, values in _iter_permuted_forest(self.estimators_, X, permutations, predict):
            yield repeat, column, values[:, 0]
