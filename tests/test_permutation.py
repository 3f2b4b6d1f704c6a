"""The fast exact permutation-importance path gives eli5's numbers for the same permutations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score
from sklearn.utils import check_random_state

from srna_nb.errors import SrnaParameterError
from srna_nb.explain import ALL_CLASSES, permutation_importance, shuffle_orders
from srna_nb.models import RFClassifier, linear_classifier, make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target


@pytest.fixture(scope="module")
def fitted():
    atlas, truth = simulate_atlas(n_samples=500, seed=8, n_features=250, n_studies=25, tissues=["liver", "heart", "plasma", "lung"])
    data = prepare_target(atlas, "tissue")
    pipeline = make_model("dl", {"hidden_layers": [48, 24], "max_epochs": 20, "batch_norm": True}).fit(data.X[:350], data.y[:350])
    X = pipeline[:-1].transform(data.X[350:])
    names = pipeline[:-1].get_feature_names_out(data.feature_names)
    return pipeline, X, data.y[350:], names, truth


def test_shuffle_orders_match_eli5s_in_place_shuffles():
    X = np.arange(40, dtype=float).reshape(10, 4)
    rng = check_random_state(3)
    expected = []
    for _ in range(2):
        for column in range(4):
            shuffled = X.copy()
            rng.shuffle(shuffled[:, column])  # what eli5's iter_shuffled does
            expected.append(shuffled[:, column])
    orders = shuffle_orders(10, 4, 2, random_state=3)
    got = [X[orders[r, c], c] for r in range(2) for c in range(4)]
    np.testing.assert_array_equal(np.array(got), np.array(expected))


def overall(table):
    return table[table["class"] == ALL_CLASSES].set_index("feature")


def assert_same_scores(fast, slow):
    columns = [c for c in slow.columns if c.startswith("repeat")]
    fast, slow = fast.set_index(["class", "feature"]), slow.set_index(["class", "feature"])
    np.testing.assert_allclose(fast.loc[slow.index, columns].to_numpy(), slow[columns].to_numpy(), atol=1e-12)
    assert (slow["importance"] > 0).any()  # something matters, so the comparison is not vacuous


def test_fast_dl_path_equals_eli5(fitted):
    pipeline, X, y, names, _ = fitted
    fast = permutation_importance(pipeline[-1], X, y, n_repeats=2, random_state=4, feature_names=names, method="fast")
    slow = permutation_importance(pipeline[-1], X, y, n_repeats=2, random_state=4, feature_names=names, method="eli5", per_class=False)
    assert_same_scores(fast[fast["class"] == ALL_CLASSES], slow)


def test_fast_dl_path_equals_full_reprediction_per_class(fitted):
    pipeline, X, y, names, _ = fitted
    fast = permutation_importance(pipeline[-1], X, y, n_repeats=1, random_state=5, feature_names=names, method="fast")
    full = permutation_importance(pipeline[-1], X, y, n_repeats=1, random_state=5, feature_names=names, method="full")
    assert set(fast["class"]) == {ALL_CLASSES, *set(y)}
    assert_same_scores(fast, full)


def test_per_class_score_is_one_vs_rest_balanced_accuracy(fitted):
    pipeline, X, y, names, _ = fitted
    classifier = pipeline[-1]
    table = permutation_importance(classifier, X, y, n_repeats=1, random_state=6, feature_names=names)
    top = table[table["class"] != ALL_CLASSES].sort_values("importance").iloc[-1]  # the largest per-class decrease
    column = names.tolist().index(top["feature"])
    order = shuffle_orders(len(y), X.shape[1], 1, random_state=6)[0, column]
    permuted = X.copy()
    permuted[:, column] = X[order, column]

    def score(inputs):
        return balanced_accuracy_score(y == top["class"], classifier.predict(inputs) == top["class"])

    assert top["importance"] > 0
    assert top["importance"] == pytest.approx(score(X) - score(permuted), abs=1e-12)


def test_planted_markers_rank_high(fitted):
    pipeline, X, y, names, truth = fitted
    table = overall(permutation_importance(pipeline[-1], X, y, n_repeats=3, feature_names=names))
    planted = truth.class_markers("tissue")
    top = list(table.index[:20])
    assert len(planted & set(top)) >= 5, top


def test_fast_path_on_a_model_without_one_is_refused(fitted):
    _, X, y, _, _ = fitted
    linear = linear_classifier().fit(X, y)
    with pytest.raises(SrnaParameterError, match="no fast permutation path"):
        permutation_importance(linear, X, y, method="fast")
    table = permutation_importance(linear, X, y, n_repeats=1)  # the full re-prediction path
    assert len(overall(table)) == X.shape[1]
    with pytest.raises(SrnaParameterError, match="per_class=False"):
        permutation_importance(linear, X, y, method="eli5")


def test_fast_rf_path_equals_eli5(fitted):
    pipeline, X, y, names, _ = fitted
    half = len(y) // 2  # train on one half, score on the other, so that permutations can hurt
    forest = RFClassifier(n_estimators=40, n_jobs=1, random_state=2).fit(X[:half], y[:half])  # one thread: fixed order
    X, y = X[half:], y[half:]
    fast = permutation_importance(forest, X, y, n_repeats=2, random_state=4, feature_names=names, method="fast")
    slow = permutation_importance(forest, X, y, n_repeats=2, random_state=4, feature_names=names, method="eli5", per_class=False)
    assert_same_scores(fast[fast["class"] == ALL_CLASSES], slow)
    full = permutation_importance(forest, X, y, n_repeats=1, random_state=4, feature_names=names, method="full")
    assert_same_scores(permutation_importance(forest, X, y, n_repeats=1, random_state=4, feature_names=names), full)
