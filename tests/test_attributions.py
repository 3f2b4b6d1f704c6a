"""Gradient attributions: the numpy network is the Keras model, gradients are right, completeness holds,
planted markers come out on top; comparison tables measure what they say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from srna_nb.errors import SrnaParameterError
from srna_nb.explain import attributions, class_attributions, completeness_gap, importance_study, sample_attributions
from srna_nb.explain.compare import marker_precision, method_agreement, top_features
from srna_nb.explain.gradients import ReluNetwork
from srna_nb.models import make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target

TISSUES = ["cerebral cortex", "whole blood", "liver", "heart", "lung", "testis"]


@pytest.fixture(scope="module")
def small():
    atlas, truth = simulate_atlas(n_samples=500, seed=3, n_features=300, n_studies=25, tissues=TISSUES)
    data = prepare_target(atlas, "tissue")
    return data, truth


@pytest.fixture(scope="module")
def fitted(small):
    data, truth = small
    train, test = train_test_split(np.arange(len(data.y)), test_size=0.3, stratify=data.y, random_state=0)
    pipeline = make_model("dl", {"hidden_layers": [48, 24], "max_epochs": 40, "batch_norm": True}).fit(data.X[train], data.y[train])
    X = pipeline[:-1].transform(data.X[test])
    names = list(pipeline[:-1].get_feature_names_out(data.feature_names))
    return pipeline[-1], X, data.y[test], names, truth


def test_numpy_network_reproduces_keras_probabilities(fitted):
    classifier, X, *_ = fitted
    scores = ReluNetwork.from_classifier(classifier).scores(X)  # batch norm folded, dropout off
    softmax = np.exp(scores - scores.max(axis=1, keepdims=True))
    softmax /= softmax.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax, classifier.predict_proba(X), atol=1e-5)


def test_gradient_matches_finite_differences(fitted):
    classifier, X, *_ = fitted
    network = ReluNetwork.from_classifier(classifier)
    x, target, step = X[:1].astype(np.float64), np.array([2]), 1e-6
    gradient = network.gradient(x, target)[0]
    for column in (0, 7, 50):
        moved = x.copy()
        moved[0, column] += step
        numeric = (network.scores(moved)[0, 2] - network.scores(x)[0, 2]) / step
        assert gradient[column] == pytest.approx(numeric, rel=1e-3, abs=1e-6)


def test_deeplift_sums_exactly_to_the_score_difference(fitted):
    classifier, X, y, *_ = fitted
    targets = np.searchsorted(classifier.classes_, y)
    baseline = X.mean(axis=0) + 0.3  # any reference, not only the default zeros
    values = attributions(classifier, X, targets, method="deeplift", baseline=baseline)
    gap = completeness_gap(classifier, X, targets, values, baseline=baseline)
    difference = values.sum(axis=1) - gap
    assert np.median(np.abs(difference)) > 0.3  # the check has something to sum
    np.testing.assert_allclose(gap, 0, atol=1e-9)


def test_integrated_gradients_complete_within_quadrature_error(fitted):
    classifier, X, y, *_ = fitted
    targets = np.searchsorted(classifier.classes_, y)
    gaps = {}
    for steps in (8, 128):
        values = attributions(classifier, X, targets, method="integrated_gradients", steps=steps)
        gaps[steps] = np.abs(completeness_gap(classifier, X, targets, values))
        difference = np.abs(values.sum(axis=1) - completeness_gap(classifier, X, targets, values))
    assert np.median(gaps[128] / difference) < 0.01
    assert gaps[128].mean() < gaps[8].mean()  # converges as the path is sampled finer


def test_gradient_x_input_uses_the_baseline(fitted):
    classifier, X, y, *_ = fitted
    targets = np.zeros(len(X), dtype=int)
    network = ReluNetwork.from_classifier(classifier)
    baseline = np.full(X.shape[1], 0.5)
    values = attributions(classifier, X, targets, method="gradient_x_input", baseline=baseline)
    np.testing.assert_allclose(values, (X - baseline) * network.gradient(X.astype(np.float64), targets))


def test_planted_tissue_markers_lead_each_class(fitted):
    classifier, X, y, names, truth = fitted
    table = class_attributions(classifier, X, y, method="integrated_gradients", feature_names=names)
    precision = marker_precision(table, truth, "tissue", k=5)
    chance = precision["expected_by_chance"].mean()
    assert precision["precision"].mean() >= 0.4, precision
    assert precision["precision"].mean() > 10 * chance
    # Liver: its planted markers (miR-122, -192, -194, -215, -885 ...) lead. Which of these redundant
    # markers a well-fitted MLP leans on depends on its initialization, so no single one is required.
    liver = table[table["class"] == "liver"]["feature"].head(5).tolist()
    assert len(set(liver) & truth.class_markers("tissue", "liver")) >= 2, liver


def test_sample_attributions_explain_the_predicted_class(fitted):
    classifier, X, y, names, _ = fitted
    table = sample_attributions(classifier, X[:4], sample_ids=["a", "b", "c", "d"], feature_names=names, method="deeplift")
    assert list(table.index) == ["a", "b", "c", "d"]
    assert list(table["explained class"]) == list(classifier.predict(X[:4]))
    assert table.shape == (4, 1 + len(names))


def test_bad_arguments_give_one_line_errors(fitted):
    classifier, X, y, *_ = fitted
    with pytest.raises(SrnaParameterError, match="unknown attribution method"):
        attributions(classifier, X, np.zeros(len(X), int), method="shap")
    with pytest.raises(SrnaParameterError, match="baseline must have"):
        attributions(classifier, X, np.zeros(len(X), int), baseline=np.zeros(3))
    with pytest.raises(SrnaParameterError, match="not trained on: kidney"):
        class_attributions(classifier, X, np.array(["kidney"] * len(X)))
    forest = make_model("rf", {"n_estimators": 5}).fit(np.ones((10, 3)), np.repeat(["a", "b"], 5))
    with pytest.raises(SrnaParameterError, match="need a DL model"):
        attributions(forest[-1], np.ones((2, 3)), np.zeros(2, int))


def test_agreement_and_precision_tables_measure_rankings():
    features = [f"f{i}" for i in range(30)]
    first = pd.DataFrame({"class": "a", "feature": features, "importance": np.arange(30.0)[::-1]})
    same = first.copy()
    reversed_ = first.assign(importance=np.arange(30.0))
    agreement = method_agreement({"one": first, "two": same, "three": reversed_}, k=5)
    by_pair = agreement.set_index(["source", "compared with"])
    assert by_pair.loc[("one", "two"), "spearman"] == pytest.approx(1.0)
    assert by_pair.loc[("one", "two"), "top_5_overlap"] == 1.0
    assert by_pair.loc[("one", "three"), "spearman"] == pytest.approx(-1.0)
    assert by_pair.loc[("one", "three"), "top_5_overlap"] == 0.0
    top = top_features(first, k=3)
    assert top["feature"].tolist() == ["f0", "f1", "f2"] and top["rank"].tolist() == [1, 2, 3]

    class Truth:  # stands in for SimulationTruth
        def class_markers(self, target, label=None):
            return {"f0", "f2", "f29"}

    precision = marker_precision({"one": first, "three": reversed_}, Truth(), "tissue", k=5).set_index("source")
    assert precision.loc["one", "precision"] == pytest.approx(2 / 5)
    assert precision.loc["three", "precision"] == pytest.approx(1 / 5)
    assert precision.loc["one", "expected_by_chance"] == pytest.approx(3 / 30)


def test_importance_study_on_held_out_studies(small, tmp_path):
    data, truth = small
    estimators = {
        "dl": make_model("dl", {"hidden_layers": [32], "max_epochs": 15}),
        "rf": make_model("rf", {"n_estimators": 20, "n_jobs": 1}),
    }
    study = importance_study(data, estimators, n_repeats=1, n_splits=4, steps=16, progress=False)
    for name, estimator in estimators.items():  # the caller's estimators are cloned, as evaluate does
        with pytest.raises(NotFittedError):
            check_is_fitted(estimator[-1])
        check_is_fitted(study.fitted[name][-1])
    sources = set(map(tuple, study.importances[["model", "method"]].drop_duplicates().to_numpy()))
    assert sources == {("dl", "permutation"), ("dl", "integrated_gradients"), ("dl", "deeplift"), ("dl", "gradient_x_input"), ("rf", "permutation")}
    test_studies = set(study.held_out["study"])
    train_studies = set(data.groups) - test_studies
    assert test_studies and not (test_studies & set(data.groups[np.isin(data.sample_ids, study.held_out["sample_id"], invert=True)]))
    assert train_studies
    assert (study.completeness.set_index("method").loc["deeplift", "max |gap|"]) < 1e-9
    assert 0.3 < study.accuracy()["dl"] <= 1
    assert "eli5-weights" in study.eli5_html("dl")
    written = study.write(tmp_path, truth=truth)
    assert {p.name for p in written} >= {"tissue_importances.csv", "tissue_marker_precision.csv", "tissue_agreement.csv"}
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary file left
