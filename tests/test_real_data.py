"""The real microRNAome atlas in ../shared/data loads as documented (skipped when absent)."""

from __future__ import annotations

import numpy as np

from srna_nb.datasets import load_dataset, load_microrna_atlas


def test_microrna_atlas_loads(real_atlas_dir):
    atlas = load_microrna_atlas(real_atlas_dir, verbose=False)
    assert (atlas.n_samples, atlas.n_features) == (528, 2131)
    assert "samples in columns" in atlas.provenance["orientation"]
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
    atlas, truth = load_dataset("microrna_atlas", path=real_atlas_dir, verbose=False)
    assert truth is None and not atlas.simulated


def test_microrna_atlas_organ_target_for_held_out_studies(real_atlas_dir):
    from srna_nb.evaluation import split_indices
    from srna_nb.targets import prepare_target

    atlas = load_microrna_atlas(real_atlas_dir, verbose=False)
    data = prepare_target(atlas, "organ", where={"sample_category": ["tissue"]}, min_class_size=3, min_studies=2, verbose=False)
    assert len(data.classes) == 12 and len(data.y) == 188  # shared/REFERENCE.md
    folds = split_indices(data, "leave_one_study_out")
    assert all(not set(data.groups[train]) & set(data.groups[test]) for train, test in folds)
