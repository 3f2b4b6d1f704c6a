"""Numeric targets: parsing, the regressors' contract, leak-free conformal intervals, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.errors import SrnaInputError
from srna_nb.models import make_model, make_models
from srna_nb.regression import FLOOR, conformal_half_width, evaluate_regression, prepare_numeric_target


@pytest.fixture(scope="module")
def age(small_simulation):
    atlas, _ = small_simulation
    return atlas, prepare_numeric_target(atlas, "age")


def test_numeric_target_keeps_labelled_samples_as_numbers(age):
    atlas, data = age
    labelled = atlas.samples["age"].notna().to_numpy()
    assert data.X.shape == (labelled.sum(), atlas.n_features) and data.y.dtype == np.float64
    np.testing.assert_array_equal(data.y, atlas.samples["age"].to_numpy(dtype=float)[labelled])
    assert list(data.groups) == list(atlas.studies[labelled])


def test_values_that_are_not_numbers_are_refused_in_one_line(age):
    atlas, _ = age
    sheet = atlas.samples.copy()
    sheet["age"] = sheet["age"].astype(object)
    sheet.iloc[4, sheet.columns.get_loc("age")] = "forties"
    broken = type(atlas)(counts=atlas.counts, samples=sheet, features=atlas.features, study_column=atlas.study_column)
    with pytest.raises(SrnaInputError) as error:
        prepare_numeric_target(broken, "age")
    message = str(error.value)
    assert message.startswith(f"column 'age' is not numeric: sample {sheet.index[4]!r} has 'forties' (1 such values)")
    assert "\n" not in message


def test_conformal_half_width_is_the_finite_sample_quantile():
    residuals = np.arange(1, 20)  # 19 residuals: ceil(20 * 0.9) / 19 -> the 18th smallest
    assert conformal_half_width(residuals, 0.9) == 18
    assert conformal_half_width(-residuals, 0.5) == 10


def test_intervals_and_predictions_use_no_test_fold_information(age):
    """Changing the test fold's ages changes neither its predictions nor its interval."""
    _, data = age
    models = {"linear": make_model("linear", regression=True)}
    first = evaluate_regression(data, models, "grouped", n_splits=4, seed=1, calibration_folds=3).predictions
    test_rows = first.loc[(first["fold"] == 0) & (first["model"] == "linear"), "sample_id"]
    changed = data.y.copy()
    changed[np.isin(data.sample_ids, test_rows)] += 40.0
    again = evaluate_regression(type(data)(data.target, data.X, changed, data.groups, data.sample_ids, data.feature_names),
                                models, "grouped", n_splits=4, seed=1, calibration_folds=3).predictions
    fold0 = (first["fold"] == 0).to_numpy()
    for column in ("predicted", "lower", "upper"):
        np.testing.assert_array_equal(first.loc[fold0, column], again.loc[fold0, column])
    assert not np.array_equal(first.loc[~fold0, "upper"], again.loc[~fold0, "upper"])  # other folds train on them


@pytest.mark.slow
def test_regressors_beat_the_floor_with_honest_coverage_and_repeat(age):
    """Simulated ages: linear and forest beat predicting the mean; intervals cover about their nominal
    share for every model; the same seed gives the same numbers (DL included)."""
    atlas, data = age
    models = make_models({"linear": {}, "rf": {"n_estimators": 30}, "dl": {"hidden_layers": [16], "max_epochs": 15}},
                         regression=True, input_scale=atlas.value_kind, seed=0)
    result = evaluate_regression(data, models, "grouped", n_splits=3, seed=0, calibration_folds=3)
    summary = result.summary()
    assert (summary.loc[["linear", "rf"], "MAE / floor"] < 0.9).all(), summary
    assert summary["coverage of 90% interval"].between(0.75, 1.0).all(), summary
    assert set(result.per_study().index.get_level_values("model")) == {FLOOR, "linear", "rf", "dl"}
    again = evaluate_regression(data, {"dl": models["dl"]}, "grouped", n_splits=3, seed=0, calibration_folds=3)
    pd.testing.assert_frame_equal(result.predictions[result.predictions["model"] == "dl"].reset_index(drop=True),
                                  again.predictions[again.predictions["model"] == "dl"].reset_index(drop=True))
