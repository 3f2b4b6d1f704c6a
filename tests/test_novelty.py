"""The novelty scores behind the ``unknown`` status."""

import numpy as np
import pytest

from srna_nb.errors import SrnaParameterError
from srna_nb.novelty import NoveltyScorer


def two_mode_classes(seed=0, n=30, d=60):
    """Class ``a`` made in two shapes (two pipelines), class ``b`` in one, and an unseen class ``c``."""
    rng = np.random.default_rng(seed)
    shapes = {name: rng.normal(0, 2, d) for name in ("a1", "a2", "b", "c")}
    draw = lambda shape, m: shapes[shape] + rng.normal(0, 0.3, (m, d))  # noqa: E731
    X = np.vstack([draw("a1", n), draw("a2", n), draw("b", n)])
    y = np.array(["a"] * 2 * n + ["b"] * n)
    return X, y, draw


def test_neighbour_mismatch_is_small_for_known_shapes_and_large_for_an_unseen_class():
    X, y, draw = two_mode_classes()
    scorer = NoveltyScorer(components=("profile_mismatch", "neighbour_mismatch"), n_profile=60).fit(X, y)
    known = scorer.score_samples(draw("a1", 20), np.array(["a"] * 20))
    unseen = scorer.score_samples(draw("c", 20), np.array(["a"] * 20))
    # A class mean halfway between two shapes correlates with neither; the nearest samples do.
    assert np.median(known[:, 1]) < 0.1 < np.median(known[:, 0])
    assert unseen[:, 1].min() > known[:, 1].max()


def test_neighbour_mismatch_compares_with_the_assigned_class_only():
    X, y, draw = two_mode_classes()
    scorer = NoveltyScorer(components=("neighbour_mismatch",), n_profile=60).fit(X, y)
    sample = draw("b", 5)
    as_b = scorer.score_samples(sample, np.array(["b"] * 5))[:, 0]
    as_a = scorer.score_samples(sample, np.array(["a"] * 5))[:, 0]
    assert (as_b < 0.1).all() and (as_a > 0.5).all()


def test_neighbour_mismatch_of_a_training_sample_with_one_neighbour_is_zero():
    X, y, _ = two_mode_classes()
    scorer = NoveltyScorer(components=("neighbour_mismatch",), n_neighbours=1, n_profile=60).fit(X, y)
    np.testing.assert_allclose(scorer.score_samples(X[:4], y[:4])[:, 0], 0.0, atol=1e-6)


def test_neighbour_mismatch_averages_a_small_class_whole():
    X, y, draw = two_mode_classes(n=3)
    few = NoveltyScorer(components=("neighbour_mismatch",), n_neighbours=50, n_profile=60).fit(X, y)
    sample = draw("b", 2)
    scores = few.score_samples(sample, np.array(["b"] * 2))[:, 0]
    centred = sample - sample.mean(axis=1, keepdims=True)
    references = X[y == "b"] - X[y == "b"].mean(axis=1, keepdims=True)
    expected = 1 - (centred @ references.T / np.outer(np.linalg.norm(centred, axis=1), np.linalg.norm(references, axis=1))).mean(axis=1)
    np.testing.assert_allclose(scores, expected, atol=1e-6)


def test_a_scorer_fitted_without_the_neighbour_mismatch_cannot_score_it():
    X, y, _ = two_mode_classes()
    scorer = NoveltyScorer(components=("profile_mismatch",), n_profile=60).fit(X, y)
    scorer.components = ("neighbour_mismatch",)
    with pytest.raises(SrnaParameterError, match="fitted without neighbour_mismatch"):
        scorer.score_samples(X[:2], y[:2])


def test_class_bundles_default_to_the_neighbour_mismatch_numeric_ones_to_the_profile_mismatch():
    from srna_nb.augment.report import default_novelty

    assert default_novelty().components_ == ("neighbour_mismatch",)
    assert default_novelty("number").components_ == ("profile_mismatch",)
