"""The fast exact permutation-importance path gives eli5's numbers for the same permutations."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils import check_random_state

from srna_nb.errors import SrnaParameterError
from srna_nb.explain import permutation_importance, shuffle_orders
from srna_nb.models import RFClassifier, linear_classifier, make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target


@pytest.fixture(scope="module")
def fitted():
    atlas, truth = simulate_atlas(n_samples=500, seed=8, n_features=250, n_studies=25, tissues=["liver", "heart", "plasma", "lung"])
    data = prepare_target(atlas, "tissue", verbose=False)
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


def test_fast_dl_path_equals_eli5(fitted):
    pipeline, X, y, names, _ = fitted
    fast = permutation_importance(pipeline[-1], X, y, n_repeats=2, random_state=4, feature_names=names, method="fast")
    slow = permutation_importance(pipeline[-1], X, y, n_repeats=2, random_state=4, feature_names=names, method="eli5")
    columns = ["repeat 1", "repeat 2"]
    np.testing.assert_allclose(fast.loc[slow.index, columns].to_numpy(), slow[columns].to_numpy(), atol=1e-12)
    assert (fast["importance"] > 0).any()
    assert (fast["importance"] > 0).any()  # something matters, so the comparison is not vacuous


def test_planted_markers_rank_high(fitted):
    pipeline, X, y, names, truth = fitted
    table = permutation_importance(pipeline[-1], X, y, n_repeats=3, feature_names=names)
    planted = set(truth.markers.query("target in ['tissue', 'tissue_group']")["feature"])
    top = list(table.index[:20])
    assert len(planted & set(top)) >= 5, top


def test_fast_path_on_a_model_without_one_is_refused(fitted):
    _, X, y, _, _ = fitted
    linear = linear_classifier().fit(X, y)
    with pytest.raises(SrnaParameterError, match="no fast permutation path"):
        permutation_importance(linear, X, y, method="fast")
    assert len(permutation_importance(linear, X, y, n_repeats=1)) == X.shape[1]  # eli5 fallback


def test_fast_rf_path_equals_eli5(fitted):
    pipeline, X, y, names, _ = fitted
    half = len(y) // 2  # train on one half, score on the other, so that permutations can hurt
    forest = RFClassifier(n_estimators=40, n_jobs=1, random_state=2).fit(X[:half], y[:half])  # one thread: fixed order
    X, y = X[half:], y[half:]
    fast = permutation_importance(forest, X, y, n_repeats=2, random_state=4, feature_names=names, method="fast")
    slow = permutation_importance(forest, X, y, n_repeats=2, random_state=4, feature_names=names, method="eli5")
    columns = ["repeat 1", "repeat 2"]
    np.testing.assert_allclose(fast.loc[slow.index, columns].to_numpy(), slow[columns].to_numpy(), atol=1e-12)
    assert (fast["importance"] > 0).any()
