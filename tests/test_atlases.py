"""Several atlases as one: the sample-type vocabulary, the joint feature space, leave-one-atlas-out training."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from srna_nb.atlas import Atlas, concat_atlases
from srna_nb.augment import leave_one_atlas_out, score_held_out, train_bundle
from srna_nb.augment.atlas_out import LeaveOneAtlasOutStudy
from srna_nb.augment.cross import cross_atlas_study
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.targets import TargetSelection
from srna_nb.vocabulary import BIOFLUIDS, class_grouping, read_sample_type_table, sample_group, sample_types


# -- the mapping table --------------------------------------------------------------------------
def test_shipped_table_maps_each_atlas_spelling_to_one_sample_type():
    microrna = pd.DataFrame({"organ": ["BrainFrontal", "BrainFrontalcortex", "BrainPrefrontalCortex", "Plasma", "Blood",
                                       "Testes", "Fat", "Macrophage"]})
    assert sample_types(microrna, "microrna_atlas").tolist()[:-1] == [
        "brain", "brain", "brain", "plasma/serum", "blood", "testis", "adipose tissue"]
    assert pd.isna(sample_types(microrna, "microrna_atlas").iat[-1])  # a sorted cell type is no sample type
    ta2 = pd.DataFrame({"ta2_organ": ["bowel", "bowel", "brain", "brain", "adipocyte"],
                        "subtissue": ["colon", "duodenum", "dura_mater", "thalamus", "adipocyte"]})
    # The subtissue rules come later in the table and refine the organ's.
    assert sample_types(ta2, "mirna_tissue_atlas2").tolist() == [
        "colon", "small intestine", "meninges", "brain", "adipose tissue"]
    fluids = pd.DataFrame({"biofluid": [" Serum", "plasma", "CSF", None]}, index=list("abcd"))
    typed = sample_types(fluids, "serum_geo")
    assert typed.name == "sample_type" and list(typed.index) == list("abcd")
    assert typed.tolist()[:3] == ["plasma/serum", "plasma/serum", "cerebrospinal fluid"] and pd.isna(typed.iat[3])


def test_table_refuses_unknown_sources_absent_columns_and_contradictions(tmp_path):
    with pytest.raises(SrnaInputError, match="no rules for source 'my_lab'; it has microrna_atlas"):
        sample_types(pd.DataFrame({"organ": ["Lung"]}), "my_lab")
    with pytest.raises(SrnaInputError, match="sample sheet of 'serum_geo' has no column 'biofluid'"):
        sample_types(pd.DataFrame({"organ": ["Lung"]}), "serum_geo")
    table = tmp_path / "types.tsv"
    table.write_text("source\tcolumn\tvalue\tsample_type\nlab\ttissue\tLung\tlung\nlab\ttissue\tLUNG\tairway\n")
    with pytest.raises(SrnaInputError, match=r"types.tsv, row 3: lab tissue='LUNG' is mapped to 'lung' in an earlier row"):
        read_sample_type_table(table)
    table.write_text("source\tcolumn\tvalue\tsample_type\nlab\ttissue\t\tlung\n")
    with pytest.raises(SrnaInputError, match=r"types.tsv, row 2: empty value"):
        read_sample_type_table(table)
    table.write_text("source\tcolumn\tsample_type\nlab\ttissue\tlung\n")
    with pytest.raises(SrnaInputError, match="needs columns source, column, value, sample_type; missing value"):
        read_sample_type_table(table)
    table.write_text("source\tcolumn\tvalue\tsample_type\nlab\ttissue\tLung\tlung\n")
    assert sample_types(pd.DataFrame({"tissue": ["lung", "liver"]}), "lab", table).tolist()[0] == "lung"


def test_every_labelled_sample_of_the_real_atlases_has_a_sample_type(shared_data, real_atlases):
    from srna_nb.datasets import load_sample_type_atlases

    five = ["microrna_atlas", "mirna_tissue_atlas2", "lgrc_lung", "GSE131695", "GSE69579"]
    atlases = load_sample_type_atlases(shared_data, names=five)
    assert list(atlases) == five
    assert len(atlases["microrna_atlas"].samples) == 268  # every tissue sample: no organ spelling left unmapped
    assert len(atlases["mirna_tissue_atlas2"].samples) == real_atlases["mirna_tissue_atlas2"].n_samples
    typed = {name: atlas.samples["sample_type"].notna().sum() for name, atlas in real_atlases.items()}
    assert all(typed.values()) and typed["tcga"] == 10258  # primary tumours and normals of 26 organs
    counts = pd.concat([atlases[name].samples["sample_type"] for name in
                        ("microrna_atlas", "mirna_tissue_atlas2", "lgrc_lung", "GSE131695", "GSE69579")]).value_counts()
    assert counts["plasma/serum"] == 10 + 51 + 30 and counts["blood"] == 36 and counts["lung"] >= 351


# -- one feature space --------------------------------------------------------------------------
def _atlas(names, values, kind="counts", label="x"):
    values = np.asarray(values, dtype=np.float32)
    samples = pd.DataFrame({"study": ["s"] * len(values), "sample_type": label},
                           index=[f"{label}{i}" for i in range(len(values))])
    return Atlas(values, samples, pd.DataFrame({"rna_class": "miRNA"}, index=names), value_kind=kind)


def test_features_of_some_atlases_are_kept_as_unmeasured_elsewhere():
    first = _atlas(["hsa-miR-21-5p", "hsa-miR-122-5p"], [[10, 90]], label="a")
    second = _atlas(["hsa-miR-21", "hsa-miR-451a"], [[5, 5]], label="b")  # old name of miR-21
    third = _atlas(["hsa-miR-21-5p", "hsa-miR-451a"], [[1, 3]], label="c")
    every = concat_atlases({"a": first, "b": second, "c": third})
    assert list(every.feature_names) == ["hsa-miR-21-5p"] and every.counts[:, 0].tolist() == [10, 5, 1]
    most = concat_atlases({"a": first, "b": second, "c": third}, min_share=0.6)
    assert list(most.feature_names) == ["hsa-miR-21-5p", "hsa-miR-451a"]
    assert np.isnan(most.counts[0, 1]) and most.counts[1:, 1].tolist() == [5, 3]  # unmeasured in a, not zero
    assert list(most.samples["atlas"]) == ["a", "b", "c"] and most.samples["study"].tolist() == ["a:s", "b:s", "c:s"]
    assert "2 of 3 features are in at least 60% of the atlases (1 in every one)" in most.provenance["features"]
    with pytest.raises(SrnaInputError, match=r"min_share must be in \(0, 1\]"):
        concat_atlases({"a": first}, min_share=0)


def test_atlases_of_different_value_kinds_meet_as_rpm():
    counts = _atlas(["hsa-miR-21-5p", "hsa-miR-122-5p"], [[25, 75]], label="a")
    log2 = _atlas(["hsa-miR-21-5p", "hsa-miR-122-5p"], [[np.log2(500_001), np.log2(500_001)]], kind="log2_rpm", label="b")
    both = concat_atlases({"a": counts, "b": log2})
    assert both.value_kind == "rpm" and "converted to rpm from counts, log2_rpm" in both.provenance["value_kind"]
    np.testing.assert_allclose(both.counts, [[250_000, 750_000], [500_000, 500_000]], rtol=1e-5)


def test_hairpin_and_mature_atlases_meet_at_hairpin_families():
    mature = _atlas(["hsa-miR-21-5p", "hsa-miR-21-3p", "hsa-miR-122-5p"], [[10, 2, 88]], label="a")
    families = ["hsa-miR-21-5p/hsa-miR-21-3p", "hsa-miR-122-5p/hsa-miR-122-3p"]
    hairpin = replace(_atlas(families, [[30, 70]], label="b"), provenance={"feature_level": "hairpin"})
    one_arm = _atlas(["hsa-miR-21-5p", "hsa-miR-122-5p"], [[5, 5]], label="c")  # the 3p arms were not detected
    joined = concat_atlases({"a": mature, "b": hairpin, "c": one_arm})
    assert joined.provenance["feature_level"] == "family" and list(joined.feature_names) == families
    # A family is the sum of the arms an atlas measured; a hairpin count is never split into arms.
    assert joined.counts.tolist() == [[12, 88], [30, 70], [5, 5]]
    assert concat_atlases({"a": mature, "c": one_arm}).provenance["feature_level"] == "mature"  # no hairpins, no change
    # Log2 values are summed on the linear scale: log2(1 + (2^a - 1) + (2^b - 1)).
    log2 = _atlas(["hsa-miR-21-5p", "hsa-miR-21-3p"], [[3.0, 2.0]], kind="log2_rpm")
    summed = concat_atlases({"x": log2, "y": replace(log2, samples=log2.samples.rename(index=lambda i: f"y{i}"))}, level="family")
    np.testing.assert_allclose(summed.counts[:, 0], np.log2(1 + 7 + 3), rtol=1e-6)
    with pytest.raises(SrnaParameterError, match="level must be auto, mature or family"):
        concat_atlases({"a": mature}, level="hairpin")


def test_a_large_atlas_is_capped_per_group_at_random_and_says_so():
    values = np.arange(12, dtype=float)[:, None]
    samples = pd.DataFrame({"study": "s", "sample_type": ["lung"] * 8 + ["liver"] * 2 + [None] * 2},
                           index=[f"s{i}" for i in range(12)])
    atlas = Atlas(values, samples, pd.DataFrame({"rna_class": "miRNA"}, index=["hsa-miR-21-5p"]))
    capped = atlas.capped("sample_type", 3, random_state=0)
    assert capped.samples["sample_type"].value_counts().to_dict() == {"lung": 3, "liver": 2}
    assert capped.samples["sample_type"].isna().sum() == 2  # no label, no group: kept
    assert list(capped.sample_ids) == sorted(capped.sample_ids, key=lambda i: int(i[1:]))  # the atlas' order kept
    assert capped.provenance["capped"] == "at most 3 samples per sample_type: 7 of 12 samples"
    assert list(atlas.capped("sample_type", 3, random_state=0).sample_ids) == list(capped.sample_ids)
    assert {tuple(atlas.capped("sample_type", 3, random_state=seed).sample_ids) for seed in range(5)} != {tuple(capped.sample_ids)}
    with pytest.raises(SrnaInputError, match="no sample-sheet column 'organ' to cap samples by"):
        atlas.capped("organ", 3)
    assert atlas.matching({"sample_type": ["liver", "kidney"]}).sum() == 2 and atlas.matching({}).all()
    assert atlas.matching({"sample_type": "lung", "study": "s"}).sum() == 8  # every condition holds
    with pytest.raises(SrnaInputError, match="label column 'organ' not in the sample sheet; available: study, sample_type"):
        atlas.matching({"organ": "lung"})


def test_training_can_leave_part_of_an_atlas_out_while_it_is_scored_whole_when_held_out(three_atlases):
    selection = TargetSelection("sample_type", min_class_size=5, min_studies=2)
    females = {"atlas1": {"sex": ["female"]}}
    study = leave_one_atlas_out(three_atlases, selection, {"linear": {}}, seeds=[0], n_splits=3, keep_bundles=True,
                                plain_sklearn=False, training_where=females)
    trained = three_atlases["atlas1"].samples
    ids = set(study.bundles[("atlas0", "linear", 0)].out_of_fold["sample_id"])
    assert ids & set(trained.index[trained["sex"] == "female"]) and not ids & set(trained.index[trained["sex"] != "female"])
    held = study.scores.set_index("held-out atlas").loc["atlas1"]
    assert held["samples"] == trained["sample_type"].notna().sum()  # held out, every sample is scored


# -- training across atlases --------------------------------------------------------------------
@pytest.fixture(scope="module")
def three_atlases(small_simulation):
    """The simulated atlas cut into three by study, each a pretend pipeline (simulated data)."""
    atlas, _ = small_simulation
    atlas.samples["sample_type"] = atlas.samples["tissue"]
    studies = sorted(atlas.samples["study"].unique())
    parts = {}
    for number in range(3):
        mine = atlas.samples["study"].isin(studies[number::3]).to_numpy()
        parts[f"atlas{number}"] = atlas.subset(samples=mine)
    return parts


def test_scores_keep_never_learnt_classes_apart():
    scores = score_held_out(["a", "a", "b", "z", "z"], ["a", "b", "b", "a", "b"],
                            ["confident", "confident", "uncertain", "confident", "unknown"], ["a", "b"])
    assert scores["learnt-class samples"] == 3 and scores["never-learnt samples"] == 2
    assert scores["learnt-class accuracy"] == pytest.approx(2 / 3)
    assert scores["confident share"] == pytest.approx(2 / 3) and scores["confident accuracy"] == 0.5
    assert scores["never-learnt not confident"] == 0.5 and scores["unknown share"] == 0.2
    assert scores["low-coverage share"] == 0.0
    assert score_held_out(["a", "z"], ["a", "a"], ["low_coverage", "confident"], ["a"])["low-coverage share"] == 0.5
    assert np.isnan(scores["never-learnt group accuracy"])  # no groups given


def test_the_summary_gives_the_spread_over_seeds_of_each_headline_score():
    def scored(seed, truth, predicted, status):
        return {"held-out atlas": "atlas0", "model": "linear", "seed": seed, "training classes": 2,
                **score_held_out(truth, predicted, status, ["a", "b"])}

    scores = pd.DataFrame([scored(0, ["a", "a", "z"], ["a", "a", "a"], ["confident", "confident", "confident"]),
                           scored(1, ["a", "a", "z"], ["a", "b", "a"], ["confident", "uncertain", "unknown"])])
    row = LeaveOneAtlasOutStudy("sample_type", scores).summary().loc[("atlas0", "linear")]
    assert row["seeds"] == 2 and row["learnt-class accuracy"] == 0.75 and row["accuracy sd"] == 0.25
    assert row["confident share"] == 0.75 and row["confident share sd"] == 0.25
    assert row["confident accuracy"] == 1.0 and row["confident accuracy sd"] == 0.0
    assert row["never-learnt not confident"] == 0.5 and row["never-learnt not confident sd"] == 0.5


def test_never_learnt_samples_are_scored_one_level_up():
    truth = ["lung", "blood", "retina", "testis"]
    predicted = ["lung", "plasma/serum", "brain", "plasma/serum"]
    scores = score_held_out(truth, predicted, ["confident"] * 4, ["lung", "brain", "plasma/serum"], sample_group)
    # blood -> plasma/serum (both biofluids) and retina -> brain (both tissues) are right one level up,
    # testis -> plasma/serum is not; the learnt lung sample does not count.
    assert scores["never-learnt samples"] == 3
    assert scores["never-learnt group accuracy"] == pytest.approx(2 / 3)
    assert sample_group("cerebrospinal fluid") == "biofluid" and sample_group("skin") == "solid tissue"
    assert sample_group(float("nan")) is None
    assert class_grouping("sample_type") is sample_group and class_grouping("tissue") is None
    # Every biofluid is a type of the shipped table (a renamed type would silently turn into a tissue).
    assert BIOFLUIDS <= set(read_sample_type_table()["sample_type"])


def test_predict_scores_never_learnt_sample_types_one_level_up():
    from types import SimpleNamespace

    from srna_nb.cli import _given_label_scores

    ids = ["s1", "s2", "s3", "s4"]
    atlas = Atlas(np.ones((4, 1)), pd.DataFrame({"sample_type": ["lung", "blood", "retina", "testis"]}, index=ids),
                  pd.DataFrame({"rna_class": "miRNA"}, index=["hsa-miR-1"]))
    table = pd.DataFrame({"sample_id": ids, "predicted": ["lung", "plasma/serum", "brain", "plasma/serum"],
                          "status": ["confident", "confident", "uncertain", "confident"]})
    bundle = SimpleNamespace(target="sample_type", classes=["lung", "brain", "plasma/serum"])
    line = _given_label_scores(bundle, atlas, table)
    assert line.endswith("3 of classes it never learnt, 33.3% of them kept out of confident, "
                         "66.7% called a type of their own group (biofluid or solid tissue)"), line


def test_a_held_out_atlas_reaches_no_part_of_its_bundle(three_atlases):
    selection = TargetSelection("sample_type", min_class_size=5, min_studies=2)
    study = leave_one_atlas_out(three_atlases, selection, {"linear": {}}, seeds=[0], n_splits=3, keep_bundles=True,
                                score_by="sex")
    parts = study.scores[study.scores["held-out atlas"].str.contains(r"\(sex=")]
    study.scores = study.scores.drop(parts.index)
    assert set(study.scores["held-out atlas"]) == set(three_atlases)
    # Each held-out atlas is also scored per sex: the parts add up to the whole.
    for name, whole in study.scores[study.scores["model"] == "linear"].set_index("held-out atlas").iterrows():
        mine = parts[parts["held-out atlas"].str.startswith(f"{name} (") & (parts["model"] == "linear")]
        assert set(mine["held-out atlas"]) == {f"{name} (sex={sex})" for sex in ("female", "male", "NA")}
        assert mine["samples"].sum() == whole["samples"]
        assert (mine["learnt-class accuracy"] * mine["learnt-class samples"]).sum() == pytest.approx(
            whole["learnt-class accuracy"] * whole["learnt-class samples"])
    assert set(study.scores["model"]) == {"linear", "plain sklearn RF"}
    ours = study.scores[study.scores["model"] == "linear"]
    assert (ours["learnt-class accuracy"] > 0.9).all() and (ours["learnt-class samples"] > 0).all()  # simulated data
    # Scramble the held-out atlas (values and labels): the bundle that annotates it must not change.
    scrambled = dict(three_atlases)
    held = three_atlases["atlas0"]
    rng = np.random.default_rng(0)
    samples = held.samples.copy()
    samples["sample_type"] = rng.permutation(samples["sample_type"].to_numpy())
    scrambled["atlas0"] = Atlas(rng.permutation(held.counts, axis=0), samples, held.features, value_kind=held.value_kind)
    again = leave_one_atlas_out(scrambled, selection, {"linear": {}}, seeds=[0], n_splits=3, keep_bundles=True,
                                plain_sklearn=False)
    before, after = study.bundles[("atlas0", "linear", 0)], again.bundles[("atlas0", "linear", 0)]
    assert before.calibrator.temperature_ == after.calibrator.temperature_
    assert before.novelty_thresholds == after.novelty_thresholds and before.set_threshold == after.set_threshold
    np.testing.assert_array_equal(before.pipeline[-1].coef_, after.pipeline[-1].coef_)
    # ... while the bundles that train on it do change.
    assert study.bundles[("atlas1", "linear", 0)].calibrator.temperature_ != again.bundles[("atlas1", "linear", 0)].calibrator.temperature_


def test_a_held_out_hairpin_atlas_is_met_by_family_level_bundles(three_atlases):
    from srna_nb.names import family_names

    atlases = dict(three_atlases)
    atlases["atlas2"] = replace(atlases["atlas2"], provenance={"feature_level": "hairpin"})  # simulated data
    selection = TargetSelection("sample_type", min_class_size=5, min_studies=2)
    study = leave_one_atlas_out(atlases, selection, {"linear": {}}, seeds=[0], n_splits=3, keep_bundles=True,
                                plain_sklearn=False)
    for held_out in atlases:  # trained on mature atlases only, the bundle for atlas2 is at the family level too
        features = study.bundles[(held_out, "linear", 0)].features
        assert set(family_names(features)) == set(features) and any("/" in f for f in features)
    assert (study.scores["low-coverage share"] == 0).all()


def test_cross_atlas_scores_keep_never_learnt_classes_apart(small_simulation):
    atlas, _ = small_simulation
    halves = np.arange(atlas.n_samples) % 2 == 0  # the same studies in both halves (simulated data)
    first, second = atlas.subset(samples=halves), atlas.subset(samples=~halves)
    missing = first.samples["tissue"].value_counts().index[0]
    first = first.subset(samples=(first.samples["tissue"] != missing).to_numpy())  # a class the first never learns
    study = cross_atlas_study({"first": first, "second": second}, TargetSelection("tissue", min_class_size=5, min_studies=2),
                              seeds=[0], imputations=["mean"], n_splits=3)
    scores = study.scores.set_index(["direction", "model"])
    assert set(scores.index.get_level_values("model")) == {"linear", "plain sklearn RF"}
    forward = scores.loc[("first -> second", "linear")]
    table = study.annotations["first -> second (linear)"]
    assert forward["never-learnt samples"] == (~table["learnt"]).sum() == (second.samples["tissue"].notna()).sum() - forward["samples"]
    assert (table.loc[~table["learnt"], "truth"] == missing).sum() == (second.samples["tissue"] == missing).sum() > 0
    assert forward["samples"] == table["learnt"].sum() and not table.loc[table["learnt"], "truth"].eq(missing).any()
    assert forward["never-learnt not confident"] == (table.loc[~table["learnt"], "status"] != "confident").mean()
    learnt = table[table["learnt"]]
    assert forward["accuracy"] == (learnt["predicted"] == learnt["truth"]).mean() > 0.8  # simulated data
    assert scores.loc[("first -> second", "plain sklearn RF"), "samples"] == forward["samples"]
    assert study.summary().loc[("first -> second", "linear", "mean"), "never-learnt samples"] == forward["never-learnt samples"]


def test_confidence_can_be_set_on_held_out_atlases(three_atlases):
    training = concat_atlases({name: three_atlases[name] for name in ("atlas0", "atlas1")})
    selection = TargetSelection("sample_type", min_class_size=5, min_studies=2)
    bundle = train_bundle(training, selection, "linear", protocol="leave_one_atlas_out", progress=False)
    kept = training.samples.loc[bundle.out_of_fold["sample_id"]]
    assert bundle.summary.studies == kept["study"].nunique() > 2
    assert (bundle.out_of_fold["study"].to_numpy() == kept["study"].to_numpy()).all()  # studies, not atlases
    assert bundle.summary.cross_fitting.startswith("leave_one_atlas_out (2 atlases) (calibration, thresholds")
    unnamed = replace(training, samples=training.samples.drop(columns="atlas"))
    with pytest.raises(SrnaParameterError, match="needs an 'atlas' column"):
        train_bundle(unnamed, selection, "linear", protocol="leave_one_atlas_out", progress=False)


# -- the manifest -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def manifest_folder(tmp_path_factory):
    """Two small simulated atlases on disk, one as counts and one as RPM with sRNAs in columns (simulated data)."""
    from srna_nb.simulate import simulate_atlas

    folder = tmp_path_factory.mktemp("manifest")
    atlas, _ = simulate_atlas(n_samples=240, seed=2, n_features=200, n_studies=16,
                              tissues=["cerebral cortex", "whole blood", "plasma", "liver"])
    studies = sorted(atlas.samples["study"].unique())
    for number, kind in enumerate(("counts", "rpm")):
        part = atlas.subset(samples=atlas.samples["study"].isin(studies[number::2]).to_numpy())
        frame = part.to_frame()
        if kind == "rpm":
            (frame.div(frame.sum(axis=1), axis=0) * 1e6).to_csv(folder / f"lab{number}.csv")  # samples in rows
        else:
            frame.T.to_csv(folder / f"lab{number}.csv")
        part.samples.rename_axis("sample_id").to_csv(folder / f"lab{number}_samples.csv")
    (folder / "atlases.tsv").write_text("atlas\tcounts\tsamples\tvalue_kind\n"
                                        "lab0\tlab0.csv\tlab0_samples.csv\tcounts\n"
                                        "lab1\tlab1.csv\tlab1_samples.csv\trpm\n")
    return folder


def test_train_command_learns_from_a_manifest_of_atlases(manifest_folder, tmp_path, capsys):
    from srna_nb.augment import load_bundle
    from srna_nb.cli import main

    out = tmp_path / "bundle"
    assert main(["train", "--manifest", str(manifest_folder / "atlases.tsv"), "--target", "tissue", "--model", "linear",
                 "--protocol", "leave_one_atlas_out", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 atlases (lab0: " in printed and "in every one" in printed and "held-out-study accuracy" in printed
    bundle = load_bundle(out)
    assert bundle.input_scale == "rpm" and bundle.summary.cross_fitting.startswith("leave_one_atlas_out (2 atlases)")
    # Predictions scored against the sheet's own labels, learnt classes apart from the rest.
    sheet = pd.read_csv(manifest_folder / "lab0_samples.csv", index_col=0)
    sheet.loc[sheet.index[:5], "tissue"] = "bone"  # a class the bundle never learnt
    sheet.to_csv(tmp_path / "relabelled.csv")
    assert main(["predict", "--bundle", str(out), "--counts", str(manifest_folder / "lab0.csv"), "--samples",
                 str(tmp_path / "relabelled.csv"), "--out", str(tmp_path / "annotated.csv")]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    labelled = int(sheet["tissue"].notna().sum())
    assert re.match(rf"Against the given tissue of {labelled} samples: {labelled - 5} of classes the model learnt, "
                    r"accuracy [01]\.\d{3}, confident .*; 5 of classes it never learnt, \d+\.\d% of them kept out of confident", line), line
    assert "own group" not in line  # tissues have no group for a class never learnt (class_grouping)
    assert main(["train", "--counts", str(manifest_folder / "lab0.csv"), "--samples", str(manifest_folder / "lab0_samples.csv"),
                 "--target", "tissue", "--protocol", "leave_one_atlas_out", "--out", str(tmp_path / "x")]) == 2
    assert "needs several atlases: use --manifest" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [
    ("atlas\tcounts\nlab0\tlab0.csv\n", "atlases.tsv: no 'samples' column; a manifest needs atlas, counts, samples"),
    ("atlas\tcounts\tsamples\tlabel\nlab0\tlab0.csv\tlab0_samples.csv\tx\n", "atlases.tsv: unknown column 'label'"),
    ("atlas\tcounts\tsamples\n", "atlases.tsv: no atlases listed"),
    ("atlas\tcounts\tsamples\nlab0\tlab0.csv\tlab0_samples.csv\n\tlab1.csv\tlab1_samples.csv\n", "atlases.tsv, row 3: empty 'atlas'"),
    ("atlas\tcounts\tsamples\nlab0\tlab0.csv\tlab0_samples.csv\nlab0\tlab1.csv\tlab1_samples.csv\n",
     "atlases.tsv, row 3: atlas 'lab0' is listed already in row 2"),
    ("atlas\tcounts\tsamples\nlab0\tnone.csv\tlab0_samples.csv\n", r"atlases.tsv, row 2: counts file .*none.csv does not exist"),
    ("atlas\tcounts\tsamples\tvalue_kind\nlab0\tlab0.csv\tlab0_samples.csv\ttpm\n",
     "atlases.tsv, row 2: value_kind must be one of counts, rpm, log2_rpm, intensity, log2_intensity, got 'tpm'"),
    ("atlas\tcounts\tsamples\twhere\nlab0\tlab0.csv\tlab0_samples.csv\ttissue\n", "atlases.tsv, row 2: where must read column=value"),
    ("atlas\tcounts\tsamples\tstudy_column\nlab0\tlab0.csv\tlab0_samples.csv\tlab\n",
     r"atlases.tsv, row 2 \(lab0\): .*lab0_samples.csv: no study column 'lab'"),
    ("atlas\tcounts\tsamples\tsample_types\nlab0\tlab0.csv\tlab0_samples.csv\tserum_geo\n",
     r"atlases.tsv, row 2 \(lab0\): sample sheet of 'serum_geo' has no column 'biofluid'"),
    ("atlas\tcounts\tsamples\twhere\nlab0\tlab0.csv\tlab0_samples.csv\ttissue=bone\n",
     r"atlases.tsv, row 2 \(lab0\): no sample has tissue in bone"),
])
def test_manifest_mistakes_are_refused_in_one_line_naming_file_and_row(manifest_folder, content, message, capsys):
    from srna_nb.cli import main

    bad = manifest_folder / "atlases.tsv"
    good = bad.read_text()
    bad.write_text(content)
    try:
        assert main(["train", "--manifest", str(bad), "--target", "tissue", "--out", str(manifest_folder / "never")]) == 2
    finally:
        bad.write_text(good)
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("srna-nb: error: "), error
    assert re.search(message, error), error
    assert not (manifest_folder / "never").exists()


def test_a_class_only_one_atlas_measured_can_be_left_unlearnt():
    rows = []
    for atlas_name, types in (("a", ["lung"] * 4 + ["platelets"] * 4), ("b", ["lung"] * 4 + ["liver"] * 4), ("c", ["liver"] * 4)):
        rows.append(_atlas(["hsa-miR-21-5p", "hsa-miR-122-5p"], np.arange(2 * len(types)).reshape(-1, 2) + 1, label=atlas_name))
        rows[-1].samples["sample_type"] = types
        rows[-1].samples["study"] = [f"{atlas_name}{i % 2}" for i in range(len(types))]
    joined = concat_atlases(dict(zip("abc", rows)))
    selection = TargetSelection("sample_type", min_class_size=2, min_studies=2)
    assert set(selection.prepare(joined).y) == {"lung", "liver", "platelets"}
    assert set(replace(selection, min_atlases=2).prepare(joined).y) == {"lung", "liver"}  # platelets: atlas a only
    with pytest.raises(SrnaParameterError, match="min_atlases needs atlases joined by concat_atlases"):
        replace(selection, min_atlases=2).prepare(rows[0])
