"""Bundles for numbers (age in years): training, statuses, round trips, the command line, and
explanations of the regressors (permutation importance with exact fast paths, gradient attributions)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.augment import annotate, load_bundle, save_bundle, train_bundle
from srna_nb.augment.numeric import NumericBundle
from srna_nb.cli import main
from srna_nb.errors import SrnaParameterError
from srna_nb.explain import importance_study
from srna_nb.explain.gradients import completeness_gap, regression_attributions
from srna_nb.explain.permutation import regression_permutation_importance
from srna_nb.models import DLRegressor, RFRegressor, make_models
from srna_nb.regression import prepare_numeric_target
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import target_kind

TISSUES = ["cerebral cortex", "whole blood", "liver", "heart", "lung", "testis"]
LIGHT_DL = {"hidden_layers": [32], "max_epochs": 20}


@pytest.fixture(scope="module")
def simulation():
    return simulate_atlas(n_samples=420, seed=7, n_features=250, n_studies=24, tissues=TISSUES)


@pytest.fixture(scope="module")
def atlas(simulation):
    return simulation[0]


@pytest.fixture(scope="module")
def dl_bundle(atlas):
    return train_bundle(atlas, "age", "dl", LIGHT_DL, n_splits=4)


def test_target_kind_tells_numbers_from_classes(atlas):
    assert target_kind(atlas, "age") == "number"
    assert [target_kind(atlas, t) for t in ("tissue", "sex", "age_group")] == ["class"] * 3
    assert target_kind(atlas, "age", kind="class") == "class"
    with pytest.raises(SrnaParameterError, match="kind must be one of auto, class, number"):
        target_kind(atlas, "age", kind="numeric")


def test_numeric_bundle_has_honest_held_out_figures(dl_bundle, atlas):
    summary = dl_bundle.summary
    labelled = atlas.samples["age"].notna()
    assert isinstance(dl_bundle, NumericBundle) and summary.training_samples == int(labelled.sum())
    assert summary.cross_fitting.startswith("grouped 4 folds")
    oof = dl_bundle.out_of_fold
    # The held-out MAE is the out-of-fold predictions' error; the interval is their conformal quantile.
    assert summary.mae == pytest.approx(np.mean(np.abs(oof["predicted"] - oof["given"])))
    errors = np.sort(np.abs(oof["predicted"] - oof["given"]).to_numpy())
    assert dl_bundle.half_width == pytest.approx(errors[int(np.ceil((len(errors) + 1) * 0.9)) - 1])
    assert 0.75 <= summary.held_out_coverage <= 1.0
    assert 0.0 < summary.unknown_share < 0.15  # thresholds flag about unknown_rate (5%) of held-out samples
    assert oof["conflict"].sum() == summary.conflicts and set(oof["status"]) <= {"estimated", "unknown"}


def test_saved_numeric_bundle_round_trips_and_predicts_the_same_numbers(dl_bundle, atlas, tmp_path):
    folder = save_bundle(dl_bundle, tmp_path / "age")
    meta = json.loads((folder / "bundle.json").read_text())
    assert meta["kind"] == "number" and not (folder / "calibration.csv").exists() and (folder / "network-model.keras").is_file()
    loaded = load_bundle(folder)
    assert isinstance(loaded, NumericBundle) and loaded.summary == dl_bundle.summary
    before, after = annotate(dl_bundle, atlas), annotate(loaded, atlas)
    pd.testing.assert_frame_equal(before.table, after.table)
    table = after.table
    assert {"predicted", "lower", "upper", "status", "annotation", "given", "conflict"} <= set(table.columns)
    np.testing.assert_allclose(table["upper"] - table["lower"], 2 * dl_bundle.half_width)
    estimated = table["status"] == "estimated"
    np.testing.assert_array_equal(table.loc[estimated, "annotation"], table.loc[estimated, "predicted"])
    assert table.loc[~estimated, "annotation"].isna().all()
    assert list(after.status_counts().index) == ["estimated", "unknown", "low_coverage"]


def test_numeric_bundle_refuses_class_options(dl_bundle, atlas):
    with pytest.raises(SrnaParameterError, match="predicts a number"):
        annotate(dl_bundle, atlas, confidence_threshold=0.9)


def test_samples_of_a_tissue_never_seen_come_back_unknown(simulation):
    """A ridge bundle for age trained without testis (by the simulator's true tissues, hidden labels
    included), shown testis samples: nearly all unknown, against about 5% of held-out samples."""
    atlas, truth = simulation
    testis = (truth.samples["tissue"].reindex(atlas.sample_ids) == "testis").to_numpy()
    bundle = train_bundle(atlas.subset(samples=~testis), "age", "linear", n_splits=4)
    table = annotate(bundle, atlas.subset(samples=testis)).table
    assert testis.sum() >= 15 and (table["status"] == "unknown").mean() >= 0.9
    assert bundle.summary.unknown_share <= 0.1


def test_train_and_predict_commands_handle_numbers(atlas, tmp_path, capsys):
    counts, sheet, out = tmp_path / "counts.csv", tmp_path / "samples.csv", tmp_path / "bundle"
    atlas.to_frame().T.to_csv(counts)
    atlas.samples.to_csv(sheet)
    assert main(["train", "--counts", str(counts), "--samples", str(sheet), "--target", "age", "--model", "linear",
                 "--coverage", "0.8", "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "a number" in said and "80% interval" in said and "held-out MAE" in said
    assert load_bundle(out).coverage == 0.8
    annotated = tmp_path / "annotated.csv"
    assert main(["predict", "--bundle", str(out), "--counts", str(counts), "--samples", str(sheet), "--out", str(annotated)]) == 0
    assert "samples annotated for age (+-" in capsys.readouterr().out
    table = pd.read_csv(annotated)
    assert len(table) == atlas.n_samples and table["predicted"].notna().all()
    assert main(["predict", "--bundle", str(out), "--counts", str(counts), "--consensus", "study",
                 "--out", str(tmp_path / "x.csv")]) == 2
    assert "consensus" in capsys.readouterr().err and not (tmp_path / "x.csv").exists()


@pytest.fixture(scope="module")
def toy_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 12)).astype(np.float32)
    y = 40 + 6 * X[:, 0] - 4 * X[:, 3] + rng.normal(size=150)
    return X, y


@pytest.mark.parametrize("regressor", [
    DLRegressor(hidden_layers=(16,), max_epochs=40, validation_share=0.0, dropout=0.0, input_dropout=0.0),
    RFRegressor(n_estimators=30, n_jobs=1),
], ids=lambda r: type(r).__name__)
def test_regression_permutation_fast_path_is_exact(regressor, toy_regression):
    X, y = toy_regression
    regressor.fit(X, y)
    fast = regression_permutation_importance(regressor, X, y, method="fast").set_index("feature")
    full = regression_permutation_importance(regressor, X, y, method="full").set_index("feature")
    np.testing.assert_allclose(fast.loc[full.index, "importance"], full["importance"], atol=1e-5)
    assert set(fast.index[:2]) == {"x0", "x3"}  # the two features the target is made of lead


def test_regression_attributions_sum_to_the_predicted_change(toy_regression):
    X, y = toy_regression
    regressor = DLRegressor(hidden_layers=(16,), max_epochs=40, validation_share=0.0, dropout=0.0, input_dropout=0.0).fit(X, y)
    values = regression_attributions(regressor, X, method="deeplift")
    change = regressor.predict(X) - regressor.predict(np.zeros((1, X.shape[1]), dtype=np.float32))
    np.testing.assert_allclose(values.sum(axis=1), change, atol=1e-4)  # in years: the target's own units
    assert np.abs(completeness_gap(regressor, X, np.zeros(len(X), dtype=np.intp), values)).max() < 1e-8


def test_importance_study_explains_regressors_on_held_out_studies(atlas):
    data = prepare_numeric_target(atlas, "age")
    models = make_models({"linear": {}, "dl": LIGHT_DL}, regression=True, input_scale=atlas.value_kind, seed=0)
    study = importance_study(data, models, n_repeats=2, n_splits=4, progress=False)
    assert study.numeric and study.accuracy().name == "held-out MAE"
    held_out_studies = set(study.held_out["study"])
    assert held_out_studies.isdisjoint(set(data.groups) - held_out_studies) and len(study.held_out) < len(data.y)
    methods = study.importances.groupby("model")["method"].unique().map(set)
    assert methods["linear"] == {"permutation"}
    assert methods["dl"] == {"permutation", "integrated_gradients", "deeplift", "gradient_x_input"}
    assert set(study.importances["class"]) == {"(all)"}
    assert (study.completeness.loc[study.completeness["method"] == "deeplift", "max |gap|"] < 1e-6).all()


def test_cross_fitted_predictions_use_no_value_of_their_own_fold(atlas):
    """Changing the ages of one held-out fold leaves that fold's out-of-fold predictions as they were."""
    bundle = train_bundle(atlas, "age", "linear", n_splits=4)
    oof = bundle.out_of_fold.set_index("sample_id")
    fold0 = oof.index[oof["fold"] == 0]
    sheet = atlas.samples.copy()
    sheet.loc[fold0, "age"] = sheet.loc[fold0, "age"] + 30
    changed = type(atlas)(counts=atlas.counts, samples=sheet, features=atlas.features, study_column=atlas.study_column)
    again = train_bundle(changed, "age", "linear", n_splits=4).out_of_fold.set_index("sample_id")
    assert (again.loc[fold0, "fold"] == 0).all()
    np.testing.assert_array_equal(again.loc[fold0, "predicted"], oof.loc[fold0, "predicted"])
    assert not np.allclose(again.loc[oof.index[oof["fold"] == 1], "predicted"], oof.loc[oof.index[oof["fold"] == 1], "predicted"])
