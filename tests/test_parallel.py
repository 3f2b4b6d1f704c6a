"""Folds as independent jobs: serial, local processes and a Dask cluster give identical results."""

from __future__ import annotations

import numpy as np
import pytest

from srna_nb import evaluation, models, parallel, targets
from srna_nb.errors import SrnaParameterError
from srna_nb.preprocessing import make_preprocessor
from srna_nb.simulate import simulate_atlas

LIGHT = {"dl": {"hidden_layers": [32], "max_epochs": 8}, "rf": {"n_estimators": 20}, "linear": {}}


@pytest.fixture(scope="module")
def task():
    atlas, _ = simulate_atlas(n_samples=300, seed=5, n_studies=16, tissues=["liver", "heart", "lung", "whole blood"])
    data = targets.prepare_target(atlas, "tissue", min_studies=2)
    estimators = {name: models.make_model(name, params, input_scale=atlas.value_kind, seed=0) for name, params in LIGHT.items()}
    serial = evaluation.evaluate(data, estimators, ["stratified", "grouped"], n_splits=3, keep_models=True, progress=False)
    return data, estimators, serial


def _assert_identical(expected, actual):
    timing = ["fit_seconds"]
    assert expected.scores.drop(columns=timing).equals(actual.scores.drop(columns=timing))
    assert expected.predictions.equals(actual.predictions)
    assert np.array_equal(expected.probabilities, actual.probabilities)  # bit for bit


@pytest.mark.slow
def test_local_processes_match_serial(task):
    data, estimators, serial = task
    with parallel.use("loky", n_jobs=2):
        result = evaluation.evaluate(data, estimators, ["stratified", "grouped"], n_splits=3, keep_models=True, progress=False)
    _assert_identical(serial, result)
    # Fitted models come back from the workers and predict as the serial ones do (the Keras network included).
    _, test = evaluation.split_indices(data, "grouped", 3, 0)[1]
    for name in LIGHT:
        assert np.array_equal(serial.fitted[(name, "grouped", 1)].predict_proba(data.X[test]),
                              result.fitted[(name, "grouped", 1)].predict_proba(data.X[test]))


@pytest.mark.slow
def test_dask_local_cluster_matches_serial(task):
    distributed = pytest.importorskip("dask.distributed")
    data, estimators, serial = task
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with parallel.use("dask", scheduler=cluster.scheduler_address):
            result = evaluation.evaluate(data, estimators, ["stratified", "grouped"], n_splits=3, progress=False)
            workers = distributed.get_client().run(lambda: 1)
    assert len(workers) == 2  # the jobs had a two-worker cluster to run on
    _assert_identical(serial, result)


def test_backend_choices_are_checked():
    with pytest.raises(SrnaParameterError, match="unknown backend 'spark'"):
        with parallel.use("spark"):
            pass
    with pytest.raises(SrnaParameterError, match="only used with backend 'dask'"):
        with parallel.use("loky", scheduler="tcp://127.0.0.1:8786"):
            pass


@pytest.mark.slow
def test_unreachable_scheduler_is_a_one_line_error():
    pytest.importorskip("dask.distributed")
    with pytest.raises(SrnaParameterError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9") as error:
        with parallel.use("dask", scheduler="tcp://127.0.0.1:9"):
            pass
    assert "\n" not in str(error.value)


@pytest.mark.slow
def test_dl_fits_in_threads_match_one_after_the_other_whatever_the_global_seeds():
    """No global seeding: a fit's randomness comes from its random_state only."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    atlas, _ = simulate_atlas(n_samples=300, seed=4, n_features=200, n_studies=12)
    data = targets.prepare_target(atlas, "tissue", min_studies=2)
    X = make_preprocessor().fit_transform(data.X)

    def fit(seed):
        return models.DLClassifier(hidden_layers=(32,), max_epochs=8, random_state=seed).fit(X, data.y).predict_proba(X)

    random.seed(123)
    np.random.seed(123)
    alone = [fit(seed) for seed in (1, 2)]
    random.seed(999)
    np.random.seed(999)
    assert np.array_equal(fit(1), alone[0])  # other global seeds, same fit
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(fit, (1, 2)))
    for one, other in zip(alone, together):
        np.testing.assert_array_equal(one, other)
    assert not np.array_equal(alone[0], alone[1])  # the seed matters


def test_dl_says_when_early_stopping_cannot_run():
    X = np.random.default_rng(0).normal(size=(2, 5)).astype(np.float32)
    y = np.array(["a", "b"])
    with pytest.warns(UserWarning, match="2 training samples leave no validation rows at validation_share=0.1; trained 3 epochs without early stopping"):
        fitted = models.DLClassifier(hidden_layers=(4,), max_epochs=3).fit(X, y)
    assert not fitted.early_stopping_ and fitted.n_epochs_ == 3


def test_dl_random_state_takes_what_scikit_learn_takes_and_a_generator():
    X = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    y = np.array(["a", "b"] * 20)

    def proba(random_state):
        return models.DLClassifier(hidden_layers=(4,), max_epochs=3, random_state=random_state).fit(X, y).predict_proba(X)

    np.testing.assert_array_equal(proba(np.random.default_rng(5)), proba(np.random.default_rng(5)))
    np.testing.assert_array_equal(proba(np.random.RandomState(5)), proba(np.random.RandomState(5)))
    assert proba(None).shape == (40, 2)
