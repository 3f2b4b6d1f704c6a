"""Augmentation: bundles round-trip and refuse tampering, features align by name, statuses and
conflicts behave on planted ground truth, the predict command succeeds and fails cleanly."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.preprocessing import FunctionTransformer

from srna_nb.augment import annotate, load_bundle, save_bundle, train_bundle
from srna_nb.augment import samples_to_annotate
from srna_nb.augment.annotate import study_consensus
from srna_nb.augment.inputs import bundle_inputs
from srna_nb.augment.measure import hidden_label_recovery, mislabel_detection, unseen_class_check
from srna_nb.calibration import TemperatureScaler, expected_calibration_error
from srna_nb.cli import main
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.simulate import simulate_atlas

TISSUES = ["cerebral cortex", "whole blood", "plasma", "liver", "heart", "lung", "testis", "kidney"]
LIGHT_DL = {"hidden_layers": [48], "max_epochs": 25}


@pytest.fixture(scope="module")
def atlas_and_truth():
    return simulate_atlas(n_samples=700, seed=5, n_features=400, n_studies=36, tissues=TISSUES, mislabel_rate=0.04)


@pytest.fixture(scope="module")
def bundle(atlas_and_truth):
    atlas, _ = atlas_and_truth
    return train_bundle(atlas, "tissue", "dl", LIGHT_DL, n_splits=3, progress=False)


@pytest.fixture(scope="module")
def saved(bundle, tmp_path_factory):
    return save_bundle(bundle, tmp_path_factory.mktemp("bundles") / "tissue")


def test_bundle_round_trip_gives_the_same_predictions(bundle, saved, atlas_and_truth):
    atlas, _ = atlas_and_truth
    loaded = load_bundle(saved)
    before = annotate(bundle, atlas).table
    after = annotate(loaded, atlas).table
    pd.testing.assert_frame_equal(before, after)
    assert loaded.classes == bundle.classes and loaded.features == bundle.features
    meta = json.loads((saved / "bundle.json").read_text())
    assert meta["versions"]["keras"] and meta["versions"]["scikit-learn"] and meta["summary"]["training_samples"] > 500
    assert loaded.summary == bundle.summary  # typed figures survive the round trip
    assert (saved / "network-model.keras").is_file() and not list(saved.parent.glob(".*"))  # no staging left


def _rewrite_checksum(folder, name):
    meta = json.loads((folder / "bundle.json").read_text())
    meta["files"][name] = hashlib.sha256((folder / name).read_bytes()).hexdigest()
    (folder / "bundle.json").write_text(json.dumps(meta))


def test_altered_bundle_is_refused(saved, tmp_path):
    copy = tmp_path / "copy"
    save_bundle(load_bundle(saved), copy)
    data = bytearray((copy / "novelty.skops").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / "novelty.skops").write_bytes(bytes(data))
    with pytest.raises(SrnaInputError, match=r"novelty.skops: altered since the bundle was saved"):
        load_bundle(copy)


def test_untrusted_types_are_refused_even_with_matching_checksums(saved, tmp_path):
    copy = tmp_path / "copy"
    save_bundle(load_bundle(saved), copy)
    sio.dump(FunctionTransformer(func=os.system), copy / "pipeline.skops")  # would run a shell command
    _rewrite_checksum(copy, "pipeline.skops")
    with pytest.raises(SrnaInputError, match="types srna_nb does not trust"):
        load_bundle(copy)


def test_missing_or_foreign_folders_are_refused(saved, tmp_path):
    with pytest.raises(SrnaInputError, match="not a bundle"):
        load_bundle(tmp_path)
    with pytest.raises(SrnaInputError, match="already exists"):
        save_bundle(load_bundle(saved), saved)


def test_features_align_by_name_and_missing_ones_are_reported(bundle, atlas_and_truth):
    atlas, _ = atlas_and_truth
    sample = atlas.subset(samples=np.arange(60))
    reference = annotate(bundle, sample).table
    shuffled = sample.subset(features=np.random.default_rng(0).permutation(sample.n_features))
    pd.testing.assert_frame_equal(annotate(bundle, shuffled).table, reference)

    keep = np.ones(sample.n_features, bool)
    keep[:100] = False  # 25% of the sRNAs missing
    partial = annotate(bundle, sample.subset(features=keep))
    assert partial.overlap.present == len(bundle.features) - len(set(bundle.features) & set(sample.feature_names[:100]))
    assert set(partial.overlap.missing) == set(bundle.features) & set(sample.feature_names[:100])
    zero_filled = sample.subset()
    zero_filled.counts[:, :100] = 0
    as_zero = annotate(bundle, sample.subset(features=keep), imputation="zero")
    np.testing.assert_allclose(as_zero.table["probability"], annotate(bundle, zero_filled).table["probability"])
    # The bundle's default, mean imputation: a missing feature sits at its training mean (0 at the
    # standardized classifier input), which changes the probabilities compared with "not detected".
    assert bundle.imputation == "mean" and partial.overlap.imputation == "mean"
    assert not np.allclose(partial.table["probability"], as_zero.table["probability"])
    _, inputs, _ = bundle_inputs(bundle, sample.subset(features=keep))
    kept = np.asarray(bundle.features, dtype=object)[bundle.pipeline[0].named_steps["detected"].support_]
    assert np.all(inputs[:, np.isin(kept, partial.overlap.missing)] == 0) and np.isin(kept, partial.overlap.missing).any()
    with pytest.raises(SrnaInputError, match=r"below the minimum overlap of 90%"):
        annotate(bundle, sample.subset(features=keep), min_overlap=0.9)


def test_imputation_defaults_by_model_and_an_explicit_choice_wins(atlas_and_truth):
    atlas, _ = atlas_and_truth
    small = atlas.subset(samples=np.arange(300))
    forest = train_bundle(small, "tissue", "rf", {"n_estimators": 20}, n_splits=3, progress=False)
    linear = train_bundle(small, "tissue", "linear", n_splits=3, progress=False)
    chosen = train_bundle(small, "tissue", "rf", {"n_estimators": 20}, n_splits=3, imputation="mean", progress=False)
    assert (forest.imputation, linear.imputation, chosen.imputation) == ("zero", "mean", "mean")
    # The forest's default really fills missing sRNAs as "not detected" when it annotates.
    keep = np.ones(small.n_features, bool)
    keep[:100] = False
    zero_filled = small.subset()
    zero_filled.counts[:, :100] = 0
    partial = annotate(forest, small.subset(features=keep))
    assert partial.overlap.imputation == "zero"
    np.testing.assert_allclose(partial.table["probability"], annotate(forest, zero_filled).table["probability"])
    with pytest.raises(SrnaParameterError, match="imputation must be one of mean, zero, got 'median'"):
        train_bundle(small, "tissue", "linear", n_splits=3, imputation="median", progress=False)


def test_hidden_labels_are_recovered(bundle, atlas_and_truth):
    atlas, truth = atlas_and_truth
    table = annotate(bundle, samples_to_annotate(atlas, "tissue")).table
    scores = hidden_label_recovery(table, truth, "tissue")
    assert scores["samples"] > 5
    assert scores["accuracy of confident predictions"] >= 0.9, scores


def test_conflicts_find_planted_mislabels(bundle, atlas_and_truth):
    _, truth = atlas_and_truth
    scores = mislabel_detection(bundle.out_of_fold, truth, "tissue")
    assert scores["planted mislabels"] >= 10
    assert scores["precision"] >= 0.7 and scores["recall"] >= 0.6, scores
    ranked = bundle.out_of_fold[bundle.out_of_fold["conflict"]].sort_values("conflict_evidence", ascending=False)
    planted = set(truth.mislabels["sample_id"])
    assert ranked["sample_id"].head(5).isin(planted).all()  # strongest evidence first


def test_unseen_tissue_comes_back_unknown(atlas_and_truth):
    atlas, _ = atlas_and_truth
    check = unseen_class_check(atlas, "tissue", "testis", model="linear", n_splits=3, conflict_protocol="grouped")
    assert check["samples"] >= 10
    assert check["unknown share"] >= 0.8, check
    assert check["in-distribution unknown share"] <= 0.07, check


def test_temperature_scaling_recovers_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 4)) * 1.5
    true_proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in true_proba])
    overconfident = np.exp(2 * logits) / np.exp(2 * logits).sum(axis=1, keepdims=True)
    scaler = TemperatureScaler().fit(overconfident, y)
    assert scaler.temperature_ == pytest.approx(2, rel=0.1)
    assert expected_calibration_error(scaler.transform(overconfident), y) < 0.03 < expected_calibration_error(overconfident, y)


@pytest.fixture()
def matrix_files(atlas_and_truth, tmp_path):
    atlas, _ = atlas_and_truth
    part = atlas.subset(samples=np.arange(40))
    counts = tmp_path / "counts.csv"
    part.to_frame().T.to_csv(counts)  # sRNAs in rows, samples in columns
    sheet = tmp_path / "samples.csv"
    part.samples[["study", "tissue"]].rename_axis("sample_id").to_csv(sheet)
    return counts, sheet


def test_predict_command_writes_the_annotation_table(saved, matrix_files, tmp_path, capsys):
    counts, sheet = matrix_files
    out = tmp_path / "out" / "annotated.csv"
    assert main(["predict", "--bundle", str(saved), "--counts", str(counts), "--samples", str(sheet), "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert len(table) == 40
    assert {"predicted", "probability", "runner_up", "status", "annotation", "conflict"} <= set(table.columns)
    assert set(table["status"]) <= {"confident", "uncertain", "unknown"}
    assert "40 samples annotated for tissue" in capsys.readouterr().out


def test_study_consensus_votes_over_labelled_samples():
    table = pd.DataFrame({
        "predicted": ["liver", "liver", "colon", "liver", "colon", "colon", "lung", "lung"],
        "probability": [0.9, 0.6, 0.95, 0.99, 0.7, 0.9, 0.5, 0.8],
        "status": ["confident", "uncertain", "confident", "unknown", "uncertain", "confident", "unknown", "low_coverage"],
    })
    studies = ["A", "A", "A", "B", "B", "B", "C", "C"]
    consensus = study_consensus(table, studies, min_agreement=0.6).set_index("study")
    # A: 2 of 3 voting samples say liver; B: the unknown sample abstains, colon 2 of 2; C: nobody votes.
    assert consensus.loc["A", ["majority", "voting", "mixed"]].tolist() == ["liver", 3, False]
    assert consensus.loc["A", "agreement"] == pytest.approx(2 / 3)
    assert consensus.loc["B", ["majority", "agreement", "voting"]].tolist() == ["colon", 1.0, 2]
    assert pd.isna(consensus.loc["C", "majority"]) and consensus.loc["C", "mixed"]
    # A tie goes to the larger summed probability, and a stricter agreement makes A mixed.
    tie = study_consensus(table.iloc[[0, 2]], ["A", "A"], min_agreement=0.8)
    assert tie.loc[0, "majority"] == "colon" and tie.loc[0, "mixed"]


def test_predict_command_adds_the_study_consensus(saved, matrix_files, tmp_path, capsys):
    counts, sheet = matrix_files
    out = tmp_path / "annotated.csv"
    assert main(["predict", "--bundle", str(saved), "--counts", str(counts), "--samples", str(sheet), "--out", str(out),
                 "--consensus", "study"]) == 0
    table = pd.read_csv(out)
    expected = study_consensus(table, table["study"])
    per_sample = expected.set_index("study").loc[table["study"]]
    assert (table["study_majority"].fillna("") == per_sample["majority"].fillna("").to_numpy()).all()
    assert np.allclose(table["study_agreement"], per_sample["agreement"], equal_nan=True)
    assert f"{len(expected)} studies, {int(expected['mixed'].sum())} mixed" in capsys.readouterr().out
    assert main(["predict", "--bundle", str(saved), "--counts", str(counts), "--samples", str(sheet),
                 "--out", str(tmp_path / "other.csv"), "--consensus", "lab"]) == 2
    assert "no column 'lab'" in capsys.readouterr().err and not (tmp_path / "other.csv").exists()


@pytest.mark.parametrize("problem", ["no bundle", "low overlap", "unreadable counts"])
def test_predict_command_fails_cleanly_and_keeps_the_old_output(problem, saved, matrix_files, tmp_path, capsys):
    counts, sheet = matrix_files
    out = tmp_path / "annotated.csv"
    out.write_text("previous results\n")
    bundle = str(saved)
    options = []
    if problem == "no bundle":
        bundle = str(tmp_path / "nowhere")
    elif problem == "low overlap":
        options = ["--min-overlap", "1.01"]
    else:
        counts.write_text("this is not a matrix\n\x00\x01")
    code = main(["predict", "--bundle", bundle, "--counts", str(counts), "--out", str(out), *options])
    error = capsys.readouterr().err
    assert code == 2
    assert error.startswith("srna-nb: error: ") and error.count("\n") == 1, error
    assert out.read_text() == "previous results\n"
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary file left


def test_train_command_makes_a_bundle_that_predict_uses(tmp_path, capsys):
    atlas, _ = simulate_atlas(n_samples=240, seed=2, n_features=200, n_studies=16, tissues=TISSUES[:4])
    counts = tmp_path / "counts.csv"
    atlas.to_frame().T.to_csv(counts)
    atlas.samples.to_csv(tmp_path / "samples.csv")
    out = tmp_path / "bundle"
    arguments = ["train", "--counts", str(counts), "--samples", str(tmp_path / "samples.csv"), "--target", "tissue",
                 "--model", "linear", "--out", str(out)]
    assert main(arguments) == 0
    assert "held-out-study accuracy" in capsys.readouterr().out
    assert set(load_bundle(out).classes) <= set(TISSUES[:4]) and len(load_bundle(out).classes) >= 2
    assert main(arguments) == 2 and "already exists" in capsys.readouterr().err  # never overwrites
    bad = arguments[:-1] + [str(tmp_path / "other")]
    bad[bad.index("tissue")] = "no_such_column"
    assert main(bad) == 2 and "unknown target 'no_such_column'" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
    # RPM on the command line: the same labels as counts.
    rpm = tmp_path / "rpm.csv"
    (atlas.to_frame().T / atlas.to_frame().sum(axis=1) * 1e6).to_csv(rpm)
    for source, kind in ((counts, "counts"), (rpm, "rpm")):
        assert main(["predict", "--bundle", str(out), "--counts", str(source), "--value-kind", kind,
                     "--out", str(tmp_path / f"out_{kind}.csv")]) == 0
    from_counts, from_rpm = pd.read_csv(tmp_path / "out_counts.csv"), pd.read_csv(tmp_path / "out_rpm.csv")
    assert len(from_counts) == atlas.n_samples and (from_counts["predicted"] == from_rpm["predicted"]).all()


def test_conformal_set_threshold_is_the_finite_sample_quantile():
    from srna_nb.calibration import set_members, set_threshold

    # True-class probabilities 0.1, 0.2, ..., 1.0: the 90% set needs the ceil(11 * 0.9) = 10th
    # smallest score 1 - p, i.e. p >= 0.1 (every sample covered); at 50%, the 6th: p >= 0.5.
    p_true = np.arange(1, 11) / 10
    proba = np.column_stack([p_true, 1 - p_true])
    assert set_threshold(proba, np.zeros(10, dtype=int), 0.9) == pytest.approx(0.1)
    assert set_threshold(proba, np.zeros(10, dtype=int), 0.5) == pytest.approx(0.5)
    members = set_members(np.array([[0.05, 0.95], [0.5, 0.5], [0.3, 0.7]]), 0.4)
    assert members.tolist() == [[False, True], [True, True], [False, True]]  # the top class is always in


def test_prediction_sets_hold_their_coverage_on_hidden_labels(bundle, atlas_and_truth):
    atlas, truth = atlas_and_truth
    summary = bundle.summary
    assert summary.set_coverage == 0.9 and abs(summary.held_out_set_coverage - 0.9) <= 0.05, summary
    everything = annotate(bundle, atlas)
    sets = everything.table["prediction_set"].str.split(" | ", regex=False)
    assert (sets.str[0] == everything.table["predicted"]).all()
    expected = everything.probabilities.ge(bundle.set_threshold).sum(axis=1).clip(lower=1)
    assert (sets.str.len().to_numpy() == expected.to_numpy()).all() and everything.table["set_size"].max() > 1
    table = annotate(bundle, samples_to_annotate(atlas, "tissue")).table
    scores = hidden_label_recovery(table, truth, "tissue")
    assert scores["prediction-set coverage"] >= 0.85, scores


def test_bundles_saved_without_sets_still_annotate(saved, atlas_and_truth, tmp_path):
    import shutil

    atlas, _ = atlas_and_truth
    old = tmp_path / "old"
    shutil.copytree(saved, old)
    meta = json.loads((old / "bundle.json").read_text())
    del meta["set_coverage"], meta["set_threshold"]
    (old / "bundle.json").write_text(json.dumps(meta))
    table = annotate(load_bundle(old), atlas).table
    assert "prediction_set" not in table and table["status"].notna().all()
