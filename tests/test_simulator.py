"""The simulated SEA-like atlas: structure, realism, determinism and ground truth."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from srna_nb import biology
from srna_nb.errors import SrnaParameterError
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import age_groups


@pytest.fixture(scope="module")
def default_simulation():
    return simulate_atlas()


def test_default_size_and_structure(default_simulation):
    atlas, truth = default_simulation
    assert atlas.n_samples == 4243
    assert 1900 <= atlas.n_features <= 2100
    assert atlas.simulated and "simulated" in atlas.source
    studies = atlas.studies.value_counts()
    assert 130 <= len(studies) <= 170
    assert studies.min() >= 3 and 80 <= studies.max() <= 120  # a handful to ~100 samples
    assert 28 <= truth.samples["tissue"].nunique() <= 35
    assert 9 <= truth.samples["tissue_group"].nunique() <= 12
    # Every tissue comes from at least two studies, so held-out-study evaluation is possible.
    assert truth.samples.groupby("tissue").apply(lambda s: atlas.studies[s.index].nunique()).min() >= 2


def test_tissues_nest_in_groups(default_simulation):
    _, truth = default_simulation
    assert (truth.samples.groupby("tissue")["tissue_group"].nunique() == 1).all()


def test_feature_names_are_realistic(default_simulation):
    atlas, _ = default_simulation
    classes = atlas.features["rna_class"]
    assert (classes == "miRNA").mean() > 0.75
    assert set(classes) == {"miRNA", "piRNA", "snoRNA", "tRF"}
    mirnas = atlas.feature_names[classes == "miRNA"]
    assert set(mirnas) <= set(biology.mirbase_mature_names())
    assert all(re.match(r"^hsa-(miR|let)-", name) for name in mirnas)
    assert all(re.match(r"^piR-hsa-\d+$", n) for n in atlas.feature_names[classes == "piRNA"])
    assert all(re.match(r"^(SNORD|SNORA|SCARNA)\d+$", n) for n in atlas.feature_names[classes == "snoRNA"])
    assert {"hsa-miR-122-5p", "hsa-miR-21-5p", "hsa-miR-124-3p", "hsa-miR-451a"} <= set(mirnas)


def test_counts_look_like_a_real_atlas(default_simulation):
    atlas, _ = default_simulation
    counts = atlas.counts
    assert atlas.value_kind == "counts"
    assert np.array_equal(counts, np.round(counts)) and counts.min() >= 0
    assert 0.6 <= (counts == 0).mean() <= 0.72  # real atlases: about two thirds zeros
    library = atlas.library_sizes()
    assert library.max() / library.min() > 100  # two orders of magnitude
    low, median, high = np.percentile(library, [10, 50, 90]) / 1e6
    assert 1.0 < low < 3.0 and 4.0 < median < 9.0 and 12.0 < high < 30.0
    # Heavy-tailed: the top 10 features hold most of the reads; miR-21 leads as in real data.
    share = (counts / library.to_numpy()[:, None]).mean(axis=0)
    assert np.sort(share)[-10:].sum() > 0.5
    assert atlas.feature_names[np.argmax(share)] in biology.DOMINANT_MIRNAS[:5]


def test_planted_markers_are_expressed_where_planted(default_simulation):
    atlas, truth = default_simulation
    rpm = atlas.counts / atlas.library_sizes().to_numpy()[:, None] * 1e6
    liver = (truth.samples["tissue"] == "liver").to_numpy()
    mir122 = atlas.feature_names.get_loc("hsa-miR-122-5p")
    assert np.median(rpm[liver, mir122]) > 4 * np.median(rpm[~liver, mir122])
    assert "hsa-miR-122-5p" in truth.markers_of("tissue", "liver")
    testis = (truth.samples["tissue"] == "testis").to_numpy()
    pirna = (atlas.features["rna_class"] == "piRNA").to_numpy()
    assert rpm[testis][:, pirna].sum(axis=1).mean() > 20 * rpm[~testis][:, pirna].sum(axis=1).mean()
    assert set(truth.markers["target"]) == {"tissue", "tissue_group", "sex", "age_group"}


def test_metadata_is_missing_as_in_public_atlases(default_simulation):
    atlas, truth = default_simulation
    missing = atlas.samples.isna().mean()
    assert 0.01 < missing["tissue"] < 0.06
    assert 0.3 < missing["sex"] < 0.6 and 0.35 < missing["age"] < 0.65
    # Sex is missing mostly for whole studies.
    by_study = atlas.labels("sex").isna().groupby(atlas.studies).mean()
    assert ((by_study == 1.0) | (by_study < 0.2)).mean() > 0.9
    # Hidden labels are recorded with their true values.
    hidden_tissue = truth.hidden[truth.hidden["column"] == "tissue"].set_index("sample_id")["true"]
    assert set(hidden_tissue.index) == set(atlas.sample_ids[atlas.labels("tissue").isna()])
    assert (hidden_tissue == truth.samples.loc[hidden_tissue.index, "tissue"]).all()
    # Age groups follow age through the documented bins.
    given = atlas.labels("age").notna()
    assert (atlas.labels("age_group")[given] == age_groups(atlas.labels("age")[given].astype(float))).all()


def test_mislabels_are_planted_and_recorded(default_simulation):
    atlas, truth = default_simulation
    wrong = truth.mislabels
    assert 0.01 < (wrong["column"] == "tissue").sum() / atlas.n_samples < 0.03
    for sample_id, column, given, true in wrong.itertuples(index=False):
        assert atlas.samples.at[sample_id, column] == given != true == truth.samples.at[sample_id, column]
    labelled = atlas.labels("tissue").notna()
    disagree = atlas.labels("tissue")[labelled] != truth.samples["tissue"][labelled]
    assert set(disagree[disagree].index) == set(wrong.loc[wrong["column"] == "tissue", "sample_id"])


def test_same_seed_same_atlas_other_seed_other_atlas():
    first, first_truth = simulate_atlas(n_samples=300, seed=11, n_features=400)
    second, second_truth = simulate_atlas(n_samples=300, seed=11, n_features=400)
    other, _ = simulate_atlas(n_samples=300, seed=12, n_features=400)
    assert np.array_equal(first.counts, second.counts)
    pd.testing.assert_frame_equal(first.samples, second.samples)
    pd.testing.assert_frame_equal(first_truth.markers, second_truth.markers)
    assert not np.array_equal(first.counts, other.counts)


def test_subset_of_tissues_and_small_sizes():
    atlas, truth = simulate_atlas(n_samples=120, seed=1, n_features=300, tissues=["liver", "heart", "plasma"])
    assert set(truth.samples["tissue"]) == {"liver", "heart", "plasma"}
    assert atlas.n_samples == 120 and atlas.n_features == 300


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"n_samples": 5}, "n_samples"),
        ({"n_features": 50}, "n_features"),
        ({"tissues": ["liver", "moon rock"]}, "moon rock"),
        ({"missing_sex": 1.5}, "missing"),
        ({"n_studies": 1}, "n_studies"),
    ],
)
def test_bad_simulator_settings_are_refused(arguments, message):
    with pytest.raises(SrnaParameterError, match=message):
        simulate_atlas(**{"n_samples": 200, **arguments})


def test_blocked_generation_gives_the_numbers_of_one_whole_matrix(monkeypatch):
    """The matrix is built in row blocks to bound memory; block size must not change a single count."""
    from srna_nb.simulate import simulator

    whole, _ = simulator.simulate_atlas(n_samples=300, seed=11, n_features=250)
    monkeypatch.setattr(simulator, "ROW_BLOCK", 7)
    blocked, _ = simulator.simulate_atlas(n_samples=300, seed=11, n_features=250)
    assert np.array_equal(whole.counts, blocked.counts)
    assert whole.samples.equals(blocked.samples)
