"""Shipped models load, pass their checksums, carry a model card and predict (real samples when present)."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srna_nb.atlas import Atlas
from srna_nb.augment import annotate, list_models, load_bundle, load_model, model_card
from srna_nb.augment.pretrained import model_names
from srna_nb.cli import main
from srna_nb.errors import SrnaInputError, SrnaParameterError

SHIPPED = Path(str(resources.files("srna_nb").joinpath("pretrained")))


def test_models_are_listed_with_cards_and_stay_small(capsys):
    assert "organ_atlas" in model_names()
    table = list_models()
    assert {"name", "target", "classes", "held-out-study accuracy", "cross-atlas accuracy"} <= set(table.columns)
    for name in model_names():
        card = model_card(name)
        for key in ("training sets", "classes", "naming", "versions", "built"):
            assert card[key], (name, key)
        assert all("licence" in entry for entry in card["training sets"].values())
        assert all(row["samples"] >= 10 and row["studies"] >= 2 for row in card["classes"].values())
        assert (SHIPPED / name / "MODEL_CARD.md").is_file()
    assert sum(p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()) < 20e6
    assert main(["models"]) == 0 and "organ_atlas" in capsys.readouterr().out


def test_unknown_model_name_is_one_line():
    with pytest.raises(SrnaParameterError, match=r"no shipped model 'nope'; shipped: .*organ_atlas"):
        load_model("nope")


def test_a_shipped_model_refuses_altered_files(tmp_path):
    copy = shutil.copytree(SHIPPED / "organ_atlas", tmp_path / "organ_atlas")
    load_bundle(copy)  # an unaltered copy loads
    (copy / "out_of_fold.csv").write_text("sample_id\nX\n")
    with pytest.raises(SrnaInputError, match="altered since the bundle was saved"):
        load_bundle(copy)


@pytest.mark.parametrize("value_kind", ["counts", "rpm", "log2_rpm"])
def test_shipped_model_predicts_its_training_profiles_on_any_scale(value_kind):
    """Class-mean profiles of the model's own training data, rebuilt from the novelty scorer, come back as their class."""
    bundle = load_model("organ_atlas")
    # A synthetic sample per class: the training mean of every feature at the classifier's input,
    # mapped back through the standardization and log/RPM steps to linear RPM values.
    preprocess = bundle.pipeline[0]
    kept = preprocess.named_steps["detected"].support_
    scaler = preprocess.named_steps["scale"]
    scale = 1.0 if scaler.scale_ is None else scaler.scale_  # centred-only models keep log2 units
    profiles = bundle.novelty.means_ * scale + scaler.mean_  # log2(RPM + 1) of kept features
    rpm = np.zeros((len(bundle.classes), len(bundle.features)))
    rpm[:, kept] = np.maximum(np.exp2(profiles) - 1, 0)
    values = {"counts": np.round(rpm * 5), "rpm": rpm, "log2_rpm": np.log2(rpm + 1)}[value_kind]
    atlas = Atlas(values, pd.DataFrame(index=pd.Index([f"s{i}" for i in range(len(values))], name="sample_id")),
                  pd.DataFrame({"rna_class": "miRNA"}, index=pd.Index(bundle.features, name="feature")), value_kind=value_kind)
    table = annotate(bundle, atlas).table
    assert (table["predicted"].to_numpy() == np.asarray(bundle.novelty.classes_)).mean() >= 0.9


@pytest.mark.parametrize("problem", ["counts given as rpm", "no small-RNA names", "too little overlap", "unknown model"])
def test_predict_with_a_shipped_model_refuses_bad_input_in_one_line(problem, tmp_path, capsys):
    features = load_model("organ_atlas").features
    counts = pd.DataFrame(np.random.default_rng(0).poisson(20, size=(600, 4)), index=pd.Index(features[:600], name="feature"),
                          columns=[f"S{i}" for i in range(4)])
    model, options = "organ_atlas", []
    if problem == "counts given as rpm":
        options = ["--value-kind", "rpm"]
    elif problem == "no small-RNA names":
        counts.index = [f"GENE{i}" for i in range(len(counts))]
    elif problem == "too little overlap":
        counts = counts.iloc[:20]
    else:
        model = "no_such_model"
    counts.to_csv(tmp_path / "counts.csv")
    out = tmp_path / "annotated.csv"
    assert main(["predict", "--model", model, "--counts", str(tmp_path / "counts.csv"), "--out", str(out), *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith("srna-nb: error: ") and error.count("\n") == 1, error
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["counts.csv"]


def test_sample_type_model_annotates_counts_rpm_and_old_names(shared_data, tmp_path, capsys):
    """``srna-nb predict --model sample_type`` on a GEO serum matrix with pre-2014 names (hsa-let-7a(3),
    hsa-let-7a*), as counts and as RPM of the same samples: the same labels. GSE69579 is one of the
    model's training sets, so this checks the commands and the name handling, not held-out accuracy."""
    assert "sample_type" in model_names()
    counts = shared_data / "serum_geo" / "GSE69579.csv.gz"
    frame = pd.read_csv(counts, index_col=0)
    rpm = tmp_path / "rpm.csv"
    (frame / frame.sum(axis=0) * 1e6).to_csv(rpm)
    for source, kind in ((counts, "counts"), (rpm, "rpm")):
        assert main(["predict", "--model", "sample_type", "--counts", str(source), "--value-kind", kind,
                     "--out", str(tmp_path / f"{kind}.csv")]) == 0
    printed = capsys.readouterr().out
    assert "samples annotated for sample_type" in printed
    from_counts, from_rpm = pd.read_csv(tmp_path / "counts.csv"), pd.read_csv(tmp_path / "rpm.csv")
    assert len(from_counts) == frame.shape[1] and (from_counts["predicted"] == from_rpm["predicted"]).all()
    serum = from_counts[~from_counts["sample_id"].str.contains("_|PMC", regex=True)]
    assert len(serum) == 30 and (serum["predicted"] == "plasma/serum").mean() >= 0.9
    card = model_card("sample_type")
    assert {"blood", "plasma/serum", "lung", "brain"} <= set(card["classes"])
    assert card["classes it cannot recognize (in the atlases, below 10 samples, 2 studies or 2 atlases)"]
    table = list_models().set_index("name")
    assert table.loc["sample_type", "held-out-atlas accuracy"].endswith("(12 atlases)")  # 2 of 14 hold no type it learnt


def _some_columns(path: Path, columns, out: Path) -> Path:
    """The first column (names) and the given sample columns of a real matrix, as a user would cut it."""
    frame = pd.read_csv(path, index_col=0)
    frame[list(columns)].to_csv(out)
    return out


def test_sample_type_model_annotates_hairpin_counts_and_array_signals(shared_data, tmp_path, capsys):
    """``srna-nb predict --model sample_type`` on TCGA's adjacent normals as the BCGSC pipeline writes them
    (hairpin counts, empty cells), NanoString whole blood (linear intensities) and a log2 HTG plasma
    assay; a log2 signal stated as counts is refused in one line naming the flag. All three are
    training sets of the model: this checks the inputs reach it, not held-out accuracy."""
    sheet = pd.read_csv(shared_data / "tcga" / "samples.csv", dtype=str, keep_default_na=False)
    normals = sheet[(sheet["sample_code"] == "11") & sheet["tissue"].isin(["kidney", "liver", "lung", "thyroid", "breast"])]
    normals = normals.groupby("tissue").head(8)
    tcga = _some_columns(shared_data / "tcga" / "counts.csv.gz", normals["sample_id"], tmp_path / "tcga.csv")
    runs = {"tcga": (tcga, "counts"), "blood": (shared_data / "blood_gse108395" / "counts.csv.gz", "intensity"),
            "htg": (shared_data / "plasma_geo" / "GSE178246.csv.gz", "log2_intensity")}
    assert main(["predict", "--model", "sample_type", "--counts", str(tcga), "--out", str(tmp_path / "t.csv")]) == 2
    assert "read them with --empty-cells unmeasured" in capsys.readouterr().err  # 4 cohorts lack some hairpins
    for name, (path, kind) in runs.items():
        assert main(["predict", "--model", "sample_type", "--counts", str(path), "--value-kind", kind, "--empty-cells",
                     "unmeasured", "--out", str(tmp_path / f"{name}.csv")]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "hairpin" in printed  # the level the loader read TCGA's rows at is reported
    calls = {name: pd.read_csv(tmp_path / f"{name}.csv").set_index("sample_id") for name in runs}
    truth = normals.set_index("sample_id")["tissue"]
    assert (calls["tcga"].loc[truth.index, "predicted"] == truth).mean() >= 0.8
    assert (calls["blood"]["predicted"] == "blood").mean() >= 0.9
    assert (calls["htg"]["predicted"] == "plasma/serum").mean() >= 0.9
    assert main(["predict", "--model", "sample_type", "--counts", str(runs["htg"][0]), "--value-kind", "counts",
                 "--out", str(tmp_path / "wrong.csv")]) == 2
    error = capsys.readouterr().err
    assert "--value-kind" in error and "log2_intensity" in error and "value_kind" not in error
    assert error.count("\n") == 1 and not (tmp_path / "wrong.csv").exists()


def test_cli_messages_name_flags_not_python_keywords():
    from srna_nb.cli import as_flags

    assert as_flags("looks like RPM, pass value_kind='rpm'") == "looks like RPM, pass --value-kind rpm"
    assert as_flags("read them with empty_cells='unmeasured'") == "read them with --empty-cells unmeasured"
    assert as_flags("with feature_level='mature' or 'hairpin'") == "with --feature-level mature or 'hairpin'"
    # A bare name is a manifest column or a sheet field, not a keyword: left as it is.
    assert as_flags("atlases.tsv, row 2: value_kind must be one of counts") == "atlases.tsv, row 2: value_kind must be one of counts"
