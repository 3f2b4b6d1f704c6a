"""The coverage gate's weights: how much a model relies on each input sRNA, and the ``low_coverage``
status they decide (simulated data)."""

from __future__ import annotations

import numpy as np
import pytest

from srna_nb.augment import annotate, train_bundle
from srna_nb.augment.reliance import input_reliance
from srna_nb.models import make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import TargetSelection

TISSUES = ["cerebral cortex", "whole blood", "liver", "heart", "lung"]
MODELS = {"linear": {}, "dl": {"hidden_layers": [48], "max_epochs": 25}, "rf": {"n_estimators": 50}}


@pytest.fixture(scope="module")
def atlas():
    atlas, _ = simulate_atlas(n_samples=400, seed=11, n_features=300, n_studies=20, tissues=TISSUES)
    return atlas


@pytest.fixture(scope="module")
def fitted(atlas):
    data = TargetSelection("tissue").prepare(atlas)
    return data, {name: make_model(name, params, input_scale=atlas.value_kind).fit(data.X, data.y)
                  for name, params in MODELS.items()}


@pytest.mark.parametrize("name", list(MODELS))
def test_reliance_is_a_share_per_input_and_none_on_filtered_features(fitted, name):
    data, pipelines = fitted
    reliance = input_reliance(pipelines[name], data.X)
    kept = pipelines[name][0].named_steps["detected"].support_
    assert reliance.shape == (data.X.shape[1],) and (reliance >= 0).all()
    assert reliance.sum() == pytest.approx(1.0) and (reliance[~kept] == 0).all()


@pytest.mark.parametrize("name", ["linear", "dl"])
def test_the_inputs_a_model_relies_on_most_move_its_predictions_most(fitted, name):
    """Setting the most-relied-on fifth of the inputs to the training mean (0 at the classifier)
    changes many predictions; the least-relied-on fifth, almost none."""
    data, pipelines = fitted
    pipeline = pipelines[name]
    kept = pipeline[0].named_steps["detected"].support_
    Z = np.asarray(pipeline[:-1].transform(data.X))
    order = np.argsort(input_reliance(pipeline, data.X)[kept])
    fifth = len(order) // 5
    before = pipeline[-1].predict(Z)

    def changed(columns):
        masked = Z.copy()
        masked[:, columns] = 0.0
        return float(np.mean(pipeline[-1].predict(masked) != before))

    most, least = changed(order[-fifth:]), changed(order[:fifth])
    assert most > 0.1 and least < 0.02 and most > 5 * least, (most, least)


def test_linear_reliance_is_gradient_x_input_of_the_predicted_class(fitted):
    data, pipelines = fitted
    pipeline = pipelines["linear"]
    Z = np.asarray(pipeline[:-1].transform(data.X), dtype=np.float64)
    coef = pipeline[-1].coef_
    predicted = np.searchsorted(pipeline[-1].classes_, pipeline[-1].predict(Z))
    expected = np.abs(Z * (coef - coef.mean(axis=0))[predicted]).mean(axis=0)
    kept = pipeline[0].named_steps["detected"].support_
    np.testing.assert_allclose(input_reliance(pipeline, data.X)[kept], expected / expected.sum(), rtol=1e-6)


def test_a_matrix_without_the_relied_on_srnas_is_low_coverage(atlas):
    """The same number of sRNAs missing: the most relied-on ones make every sample ``low_coverage``,
    the least relied-on ones leave the matrix annotated."""
    bundle = train_bundle(atlas, "tissue", "linear", n_splits=3, progress=False)
    reliance = np.asarray(bundle.feature_importance)
    order = np.argsort(reliance)
    n_missing = int(np.searchsorted(np.cumsum(reliance[order[::-1]]), 0.6)) + 1  # carry 60% of the model
    assert n_missing < len(order) // 2
    without_most = annotate(bundle, atlas.subset(features=np.sort(order[:-n_missing])))
    without_least = annotate(bundle, atlas.subset(features=np.sort(order[n_missing:])))
    assert without_most.overlap.importance_share < 0.5 and (without_most.table["status"] == "low_coverage").all()
    assert without_least.overlap.importance_share > 0.9 and not (without_least.table["status"] == "low_coverage").any()
