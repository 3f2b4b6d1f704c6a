"""miRNA name harmonization: old releases, star strands, copy suffixes, merged rows, loci summed."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from srna_nb.errors import SrnaInputError
from srna_nb.io import load_atlas, name_mapping
from srna_nb.names import describe_mapping, feature_matrix, harmonize_names


def _mapped(*names):
    table = harmonize_names(list(names))
    return dict(zip(table["input"], zip(table["feature"], table["status"])))


def test_old_and_new_names_of_one_mirna_agree():
    mapped = _mapped("hsa-miR-21-5p", "hsa-miR-21", "miR-21", "HSA-MIR-21-5P", "hsa-miR-451", "hsa-let-7a(3)")
    assert mapped["hsa-miR-21-5p"] == ("hsa-miR-21-5p", "exact")
    for old in ("hsa-miR-21", "miR-21", "HSA-MIR-21-5P"):
        assert mapped[old] == ("hsa-miR-21-5p", "renamed")
    assert mapped["hsa-miR-451"] == ("hsa-miR-451a", "renamed")
    assert mapped["hsa-let-7a(3)"] == ("hsa-let-7a-5p", "renamed")  # copy-number suffix


def test_enzyme_tags_of_old_pipelines_are_not_part_of_the_name():
    mapped = _mapped("hsa-miR-320-RNASEN", "hsa-miR-451-DICER1", "hsa-miR-21-DROSHA", "hsa-miR-99999-RNASEN")
    assert mapped["hsa-miR-320-RNASEN"] == ("hsa-miR-320a-3p", "renamed")
    assert mapped["hsa-miR-451-DICER1"] == ("hsa-miR-451a", "renamed")
    assert mapped["hsa-miR-21-DROSHA"] == ("hsa-miR-21-5p", "renamed")
    assert mapped["hsa-miR-99999-RNASEN"] == ("hsa-miR-99999-RNASEN", "unknown")  # kept as given


def test_star_strands_and_merged_rows():
    mapped = _mapped("hsa-let-7a*", "hsa-let-7a*(2)", "hsa-let-7a-2*", "hsa-miR-192-5p/215-5p", "hsa-let-7a-5p/7c-5p")
    assert mapped["hsa-let-7a*"][0] == mapped["hsa-let-7a*(2)"][0] == "hsa-let-7a-3p"
    assert mapped["hsa-let-7a-2*"][0] == "hsa-let-7a-2-3p"
    assert mapped["hsa-miR-192-5p/215-5p"] == ("hsa-miR-192-5p/hsa-miR-215-5p", "merged")
    assert mapped["hsa-let-7a-5p/7c-5p"] == ("hsa-let-7a-5p/hsa-let-7c-5p", "merged")


def test_ambiguous_armless_names_follow_the_first_registered_arm_rule():
    table = harmonize_names(["hsa-miR-375", "hsa-miR-375-3p", "hsa-miR-375-5p"]).set_index("input")
    assert table.loc["hsa-miR-375", "status"] == "ambiguous"
    arms = table.loc[["hsa-miR-375-3p", "hsa-miR-375-5p"], "accession"]
    assert table.loc["hsa-miR-375", "accession"] == min(arms)  # the lower MIMAT accession


def test_non_mirnas_and_unknown_names_pass_through():
    table = harmonize_names(["piR-hsa-1234", "SNORD33", "hsa-miR-99999", "tRF-5001a"]).set_index("input")
    assert list(table["status"]) == ["other", "other", "unknown", "other"]
    assert list(table["feature"]) == list(table.index)
    assert "1 unknown, 3 other" in describe_mapping(table.reset_index())


def test_feature_matrix_sums_members_of_a_merged_feature():
    weights, coverage = feature_matrix(["hsa-let-7a-5p/7c-5p", "hsa-miR-21-5p", "hsa-miR-122-5p"],
                                       ["hsa-let-7a-5p", "hsa-let-7c-5p", "hsa-miR-21", "SNORD33"])
    np.testing.assert_array_equal(weights.toarray(), [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 0]])
    np.testing.assert_array_equal(coverage, [1.0, 1.0, 0.0])
    _, partial = feature_matrix(["hsa-let-7a-5p/7c-5p"], ["hsa-let-7a-5p"])
    assert partial[0] == 0.5
    # Equal names match as they are, even where two names count one miRNA (the simulator's list has both).
    weights, coverage = feature_matrix(["hsa-miR-203a", "hsa-miR-203a-3p"], ["hsa-miR-203a-3p", "hsa-miR-203a"])
    np.testing.assert_array_equal(weights.toarray(), [[0, 1], [1, 0]])


def test_loader_sums_rows_of_one_mirna_and_says_so(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="srna_nb")
    counts = pd.DataFrame({"S1": [1, 2, 3, 4], "S2": [5, 6, 7, 8]},
                          index=pd.Index(["hsa-miR-21", "hsa-miR-21-5p", "hsa-let-7a(2)", "SNORD33"], name="name"))
    counts.to_csv(tmp_path / "c.csv")
    atlas = load_atlas(tmp_path / "c.csv")
    assert list(atlas.feature_names) == ["hsa-miR-21-5p", "hsa-let-7a-5p", "SNORD33"]
    np.testing.assert_array_equal(atlas.counts, [[3, 3, 4], [11, 7, 8]])
    out = caplog.text
    assert "1 exact, 2 renamed" in out and "1 rows summed" in out
    assert list(name_mapping(atlas)["input"]) == list(counts.index)
    raw = load_atlas(tmp_path / "c.csv", harmonize=False)
    assert list(raw.feature_names) == list(counts.index)
    with pytest.raises(SrnaInputError, match="without name harmonization"):
        name_mapping(raw)


def test_log2_rows_are_summed_on_the_linear_scale(tmp_path):
    values = pd.DataFrame({"S1": [np.log2(3 + 1), np.log2(5 + 1)]}, index=pd.Index(["hsa-miR-21", "hsa-miR-21-5p"], name="n"))
    values.to_csv(tmp_path / "l.csv")
    atlas = load_atlas(tmp_path / "l.csv", value_kind="log2_rpm")
    np.testing.assert_allclose(atlas.counts, [[np.log2(8 + 1)]], rtol=1e-6)


def test_duplicated_non_mirna_rows_are_refused(tmp_path):
    pd.DataFrame({"S1": [1, 2]}, index=pd.Index(["SNORD33", "SNORD33"], name="n")).to_csv(tmp_path / "d.csv")
    with pytest.raises(SrnaInputError, match=r"d.csv: duplicated row name 'SNORD33'"):
        load_atlas(tmp_path / "d.csv")


def test_a_recorded_partner_name_decides_the_arm():
    """hsa-miR-10a (plain) was never recorded, its star was: the plain name is the other arm."""
    table = harmonize_names(["hsa-miR-10a", "hsa-miR-10a*", "hsa-miR-10a-5p", "hsa-miR-10a-3p"]).set_index("input")
    assert table.loc["hsa-miR-10a", "accession"] == table.loc["hsa-miR-10a-5p", "accession"]
    assert table.loc["hsa-miR-10a*", "accession"] == table.loc["hsa-miR-10a-3p", "accession"]
    assert table.loc["hsa-miR-10a", "status"] == "renamed"


def test_one_definition_of_small_rna_names():
    from srna_nb.io import looks_like_srna_name
    from srna_nb.names import rna_class

    expected = {"hsa-miR-21-5p": "miRNA", "MIR21": "miRNA", "hsa-let-7a(3)": "miRNA", "piR-hsa-28131": "piRNA",
                "SNORD44": "snoRNA", "RNU6-1": "snRNA", "tRF-5-Gly-GCC-1": "tRF", "MINTbase-tRF-1": "tRF",
                "tRH-Gly": "tRF", "RNY4": "Y_RNA", "RN7SK": "misc_RNA", "TP53": None, "ENSG00000141510": None}
    for name, rna in expected.items():
        assert rna_class(name) == rna, name
        assert looks_like_srna_name(name) == (rna is not None), name  # the loader's check agrees
