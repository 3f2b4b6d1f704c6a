"""The real microRNAome atlas in ../shared/data loads as documented (skipped when absent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

import srna_nb
from srna_nb.datasets import load_dataset


def test_microrna_atlas_loads(real_atlas_dir):
    atlas = load_dataset("microrna_atlas", path=real_atlas_dir)[0]
    # 2,131 rows; two of them count the same miRNA under an old and a new name and are summed.
    assert (atlas.n_samples, atlas.n_features) == (528, 2130)
    assert atlas.provenance["name_mapping"].shape[0] == 2131
    assert "features_x_samples" in atlas.provenance["orientation"]
    assert atlas.studies.nunique() == 87
    assert set(atlas.labels("sample_category")) == {"tissue", "cell_type", "cancer_cell_line"}
    assert (atlas.features["rna_class"] == "miRNA").all()
    assert atlas.value_kind == "counts" and np.array_equal(atlas.counts, np.round(atlas.counts))
    # Facts recorded in shared/REFERENCE.md: about two thirds zeros, 1.0-44 M miRNA reads.
    assert 0.6 < float((atlas.counts == 0).mean()) < 0.72
    tissue = atlas.labels("sample_category") == "tissue"
    organs = atlas.labels("organ")[tissue].groupby(atlas.studies[tissue]).unique().explode()
    assert (organs.value_counts() >= 2).sum() == 12  # organs present in two or more studies


def test_microrna_atlas_through_load_dataset(real_atlas_dir):
    atlas, truth = load_dataset("microrna_atlas", path=real_atlas_dir)
    assert truth is None and not atlas.simulated


def test_microrna_atlas_organ_target_for_held_out_studies(real_atlas_dir):
    from srna_nb.evaluation import split_indices
    from srna_nb.targets import prepare_target

    atlas = load_dataset("microrna_atlas", path=real_atlas_dir)[0]
    data = prepare_target(atlas, "organ", where={"sample_category": ["tissue"]}, min_class_size=3, min_studies=2)
    assert len(data.classes) == 12 and len(data.y) == 188  # shared/REFERENCE.md
    folds = split_indices(data, "leave_one_study_out")
    assert all(not set(data.groups[train]) & set(data.groups[test]) for train, test in folds)


def test_every_real_set_loads_with_harmonized_names(shared_data):
    from srna_nb import datasets

    atlases = {
        name: datasets.load_dataset(source, path=shared_data / folder)[0]
        for name, source, folder in (("microrna_atlas", "microrna_atlas", "microrna_atlas"),
                                     ("mirna_tissue_atlas2", "mirna_tissue_atlas2", "mirna_tissue_atlas2"),
                                     ("lgrc", "lgrc_lung", "lgrc_lung"), ("GSE131695", "GSE131695", "serum_geo"),
                                     ("GSE69579", "GSE69579", "serum_geo"))
    }
    shapes = {name: (atlas.n_samples, atlas.n_features) for name, atlas in atlases.items()}
    assert shapes["mirna_tissue_atlas2"] == (185, 2267) and shapes["GSE131695"] == (61, 1436)
    assert shapes["lgrc"][0] == 351 and shapes["GSE69579"][0] == 30  # samples without metadata left out
    for name, atlas in atlases.items():
        mapping = atlas.provenance["name_mapping"]
        assert not atlas.feature_names.duplicated().any(), name
        # Most names resolve to a current miRBase name; old ones are renamed, not lost.
        assert mapping["status"].isin(["exact", "renamed", "merged", "ambiguous"]).mean() > 0.8, name
    old_style = atlas.provenance["name_mapping"]
    assert old_style.set_index("input").loc["hsa-let-7a(3)", "feature"] == "hsa-let-7a-5p"
    # Names of one miRNA now meet across sets: the 2014-era serum study shares most of its
    # resolved miRNAs with the current-name atlas.
    resolved = set(atlases["GSE69579"].feature_names[atlases["GSE69579"].features["name_status"] != "unknown"])
    assert len(resolved & set(atlases["mirna_tissue_atlas2"].feature_names)) / len(resolved) > 0.8
    lgrc = atlases["lgrc"].samples
    assert lgrc["sex"].value_counts().to_dict() == {"male": 195, "female": 156}
    assert atlases["GSE69579"].samples["age"].notna().all()


def test_lgrc_accessions_agree_with_the_files_own(shared_data):
    """The names-only mapping gives the accession the LGRC file records beside each release-18 name."""
    import pandas as pd

    from srna_nb.names import harmonize_names

    table = pd.read_csv(shared_data / "lgrc_lung" / "counts.tsv.gz", sep="\t", usecols=["V4", "V5"])
    given = table["V5"].str.split("_").str[1]
    mapping = harmonize_names(table["V4"])
    mapped = mapping["accession"].to_numpy()
    has_accession = mapped != ""
    agree = mapped == given.to_numpy()
    assert agree[has_accession].mean() >= 0.995
    # 18 rows name miRNAs that no miRBase file in shared/ records at all (no change list, no
    # hairpin name, no named sibling arm): they keep their name, without accession.
    # Measured 2026-12-02: 99.1% of all rows (2,086 of 2,104), 100% of those given an accession.
    assert agree.mean() >= 0.99 and (~has_accession).sum() <= 20


def test_cross_pipeline_prediction_with_the_shipped_model(shared_data, tmp_path, capsys):
    """No training step: the shipped organ model annotates TA2 counts, and the RPM version gets the same labels."""
    import pandas as pd

    from srna_nb.cli import main

    counts = pd.read_csv(shared_data / "mirna_tissue_atlas2" / "counts.csv.gz", index_col=0)
    rpm = counts / counts.sum(axis=0) * 1e6
    rpm.to_csv(tmp_path / "rpm.csv.gz")
    assert main(["predict", "--model", "organ_atlas", "--counts", str(shared_data / "mirna_tissue_atlas2" / "counts.csv.gz"),
                 "--value-kind", "counts", "--out", str(tmp_path / "counts_out.csv")]) == 0
    assert main(["predict", "--model", "organ_atlas", "--counts", str(tmp_path / "rpm.csv.gz"),
                 "--value-kind", "rpm", "--out", str(tmp_path / "rpm_out.csv")]) == 0
    from_counts, from_rpm = pd.read_csv(tmp_path / "counts_out.csv"), pd.read_csv(tmp_path / "rpm_out.csv")
    assert len(from_counts) == 185 and from_counts["predicted"].notna().all()
    assert list(from_counts["sample_id"]) == list(counts.columns)
    assert (from_counts["predicted"] == from_rpm["predicted"]).all()
    assert (from_counts["status"] == from_rpm["status"]).all()
    assert "185 samples annotated for organ" in capsys.readouterr().out
    # The shipped model has seen these samples: it names their organ (it must at least fit its own data).
    sheet = pd.read_csv(shared_data / "mirna_tissue_atlas2" / "samples.csv", index_col="sample")
    from srna_nb.io import catalogue

    organs = catalogue()["mirna_tissue_atlas2"].labels["organ"]["values"]
    model_organs = set(json.loads((Path(srna_nb.__file__).parent / "pretrained" / "organ_atlas" / "card.json").read_text())["classes"])
    known = sheet["organ"].map(organs).where(lambda o: o.isin(model_organs)).reindex(from_counts["sample_id"]).to_numpy()
    assert pd.notna(known).sum() > 50
    shared = pd.notna(known)
    assert (from_counts["predicted"].to_numpy()[shared] == known[shared]).mean() > 0.9


def test_shipped_organ_model_on_serum_and_csf(shared_data, tmp_path, capsys):
    """Biofluids are outside the organ model's classes: the run completes, coverage is reported, and
    cerebrospinal fluid (nothing like it in training) is mostly not called with confidence."""
    import pandas as pd

    from srna_nb.cli import main

    assert main(["predict", "--model", "organ_atlas", "--counts", str(shared_data / "serum_geo" / "GSE131695.csv.gz"),
                 "--out", str(tmp_path / "serum.csv")]) == 0
    table = pd.read_csv(tmp_path / "serum.csv")
    fluid = pd.read_csv(shared_data / "serum_geo" / "GSE131695_meta.csv.gz").set_index("Col_names")["Biofluid"]
    table["fluid"] = fluid.reindex(table["sample_id"]).to_numpy()
    csf = table[table["fluid"] == "CSF"]
    assert len(table) == 61 and len(csf) == 10 and table["status"].isin(["confident", "uncertain", "unknown", "low_coverage"]).all()
    assert (csf["status"] != "confident").mean() >= 0.7
    out = capsys.readouterr().out
    assert "of the model's input importance" in out and "Feature names harmonized" in out
    # The pre-2014 naming study is annotated (not refused) and its coverage reported.
    assert main(["predict", "--model", "organ_atlas", "--counts", str(shared_data / "serum_geo" / "GSE69579.csv.gz"),
                 "--out", str(tmp_path / "old.csv")]) == 0
    assert re.search(r"\d+ of the bundle's \d+ sRNAs found", capsys.readouterr().out)
