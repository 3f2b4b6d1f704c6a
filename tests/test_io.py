"""Loading matrices and sample sheets: both orientations, formats, and every bad input."""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaInputError
from srna_nb.io import load_atlas, looks_like_srna_name, read_h5ad, read_sample_sheet

FEATURES = ["hsa-miR-21-5p", "hsa-let-7a-5p", "hsa-miR-122-5p", "piR-hsa-1043", "SNORD44", "tRF-5-Gly-GCC-1"]
SAMPLES = ["S1", "S2", "S3", "S4"]


@pytest.fixture()
def matrix() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.integers(0, 500, (len(SAMPLES), len(FEATURES))), index=SAMPLES, columns=FEATURES)


@pytest.fixture()
def sheet() -> pd.DataFrame:
    return pd.DataFrame(
        {"sample": SAMPLES, "study": ["A", "A", "B", "B"], "tissue": ["liver", "heart", "liver", ""], "age": [30, 41, "", 70]}
    )


def write(frame: pd.DataFrame, path: Path, index: bool = True, index_label: str = "id", sep: str = ",") -> Path:
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            frame.to_csv(handle, index=index, index_label=index_label, sep=sep)
    else:
        frame.to_csv(path, index=index, index_label=index_label if index else None, sep=sep)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- good input ------------------------------------------------------------------------------
@pytest.mark.parametrize("layout", ["features_x_samples", "samples_x_features"])
@pytest.mark.parametrize("name", ["counts.csv", "counts.tsv", "counts.csv.gz", "counts.tsv.gz"])
def test_both_orientations_and_formats(tmp_path, matrix, sheet, layout, name, caplog):
    caplog.set_level(logging.INFO, logger="srna_nb")
    table = matrix.T if layout == "features_x_samples" else matrix
    counts = write(table, tmp_path / name, sep="\t" if ".tsv" in name else ",")
    samples = write(sheet, tmp_path / "samples.csv", index=False)
    before = digest(counts), digest(samples)
    atlas = load_atlas(counts, samples)
    assert isinstance(atlas, Atlas)
    assert list(atlas.sample_ids) == SAMPLES and list(atlas.feature_names) == FEATURES
    np.testing.assert_array_equal(atlas.counts, matrix.to_numpy(dtype=np.float32))
    expected = "samples in columns" if layout == "features_x_samples" else "samples in rows"
    assert expected in atlas.provenance["orientation"]
    assert expected in caplog.text  # the assumed orientation is said
    assert before == (digest(counts), digest(samples))  # nothing the user gave is modified
    assert atlas.labels("tissue").isna().sum() == 1
    assert atlas.labels("age").dtype == object and atlas.samples["age"].dtype.kind == "f"
    assert list(atlas.features["rna_class"]) == ["miRNA", "miRNA", "miRNA", "piRNA", "snoRNA", "tRF"]


@pytest.mark.parametrize("layout", ["features_x_samples", "samples_x_features"])
def test_orientation_without_sample_sheet_uses_feature_names(tmp_path, matrix, layout):
    counts = write(matrix.T if layout == "features_x_samples" else matrix, tmp_path / "counts.csv")
    atlas = load_atlas(counts)
    assert list(atlas.feature_names) == FEATURES
    assert atlas.samples.empty and list(atlas.samples.index) == SAMPLES


def test_explicit_orientation_is_taken_as_given(tmp_path, matrix):
    counts = write(matrix.T, tmp_path / "counts.csv")
    atlas = load_atlas(counts, orientation="features_x_samples")
    assert "as given" in atlas.provenance["orientation"]
    assert list(atlas.sample_ids) == SAMPLES


def test_inner_join_keeps_intersection_and_says_so(tmp_path, matrix, sheet, caplog):
    caplog.set_level(logging.INFO, logger="srna_nb")
    counts = write(matrix.T, tmp_path / "counts.csv")
    samples = write(pd.concat([sheet.iloc[1:], pd.DataFrame({"sample": ["S9"], "study": ["C"]})]), tmp_path / "s.csv", index=False)
    atlas = load_atlas(counts, samples, join="inner")
    assert list(atlas.sample_ids) == ["S2", "S3", "S4"]
    out = caplog.text
    assert "Kept the 3 samples" in out and "1 samples of counts.csv are not in s.csv" in out


def test_sample_sheet_with_named_id_column(tmp_path, sheet):
    path = write(sheet[["study", "sample", "tissue"]], tmp_path / "s.tsv", index=False, sep="\t")
    frame = read_sample_sheet(path, id_column="sample")
    assert list(frame.index) == SAMPLES and list(frame.columns) == ["study", "tissue"]


def test_rpm_and_log_scaled_input_accepted_when_stated(tmp_path, matrix):
    rpm = matrix.div(matrix.sum(axis=1), axis=0) * 1e6
    counts = write(rpm.T, tmp_path / "rpm.csv")
    atlas = load_atlas(counts, value_kind="rpm")
    assert atlas.value_kind == "rpm"
    with pytest.raises(SrnaInputError, match="looks like RPM, pass value_kind='rpm'"):
        load_atlas(counts)
    logged = write(np.log2(rpm + 1).T, tmp_path / "log.csv")
    assert load_atlas(logged, value_kind="log2_rpm").value_kind == "log2_rpm"
    with pytest.raises(SrnaInputError, match="log-scaled"):
        load_atlas(logged)


def test_h5ad_dense_and_sparse(tmp_path, matrix):
    h5py = pytest.importorskip("h5py")
    from scipy import sparse

    def write_h5ad(path, sparse_x):
        with h5py.File(path, "w") as f:
            values = matrix.to_numpy(dtype=np.float32)
            if sparse_x:
                csr = sparse.csr_matrix(values)
                group = f.create_group("X")
                group.attrs["encoding-type"], group.attrs["shape"] = "csr_matrix", values.shape
                group["data"], group["indices"], group["indptr"] = csr.data, csr.indices, csr.indptr
            else:
                f["X"] = values
            obs = f.create_group("obs")
            obs.attrs["_index"], obs.attrs["column-order"] = "_index", ["tissue", "study"]
            obs["_index"] = np.array(SAMPLES, dtype="S")
            tissue = obs.create_group("tissue")
            tissue.attrs["encoding-type"] = "categorical"
            tissue["categories"] = np.array(["heart", "liver"], dtype="S")
            tissue["codes"] = np.array([1, 0, 1, -1], dtype=np.int8)
            obs["study"] = np.array(["A", "A", "B", "B"], dtype="S")
            var = f.create_group("var")
            var.attrs["_index"], var.attrs["column-order"] = "_index", []
            var["_index"] = np.array(FEATURES, dtype="S")
        return path

    for sparse_x in (False, True):
        atlas = load_atlas(write_h5ad(tmp_path / f"a{sparse_x}.h5ad", sparse_x))
        np.testing.assert_array_equal(atlas.counts, matrix.to_numpy(dtype=np.float32))
        assert list(atlas.labels("tissue")[:3]) == ["liver", "heart", "liver"] and pd.isna(atlas.labels("tissue").iloc[3])
        assert list(atlas.studies) == ["A", "A", "B", "B"]
    with pytest.raises(SrnaInputError, match="cannot read as HDF5"):
        read_h5ad(write(matrix, tmp_path / "fake.h5ad"))


# -- bad input: one line, naming the file and the problem ----------------------------------------
def expect_error(match: str, *args, **kwargs) -> str:
    with pytest.raises(SrnaInputError, match=match) as caught:
        load_atlas(*args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert str(tmp_path / "nope.csv") in expect_error("not found", tmp_path / "nope.csv")


def test_empty_files(tmp_path, matrix):
    (tmp_path / "empty.csv").write_text("")
    expect_error("empty.csv: expression matrix file is empty", tmp_path / "empty.csv")
    (tmp_path / "header.csv").write_text("id,S1,S2\n")
    expect_error("header but no data rows", tmp_path / "header.csv")
    counts = write(matrix.T, tmp_path / "counts.csv")
    (tmp_path / "sheet.csv").write_text("\n\n")
    expect_error("sheet.csv: sample sheet file is empty", counts, tmp_path / "sheet.csv")


def test_missing_and_duplicated_sample_ids(tmp_path, matrix, sheet):
    counts = write(matrix.T, tmp_path / "counts.csv")
    blank = sheet.copy()
    blank.loc[2, "sample"] = ""
    expect_error(r"s.csv: missing sample id in data row 3", counts, write(blank, tmp_path / "s.csv", index=False))
    duplicated = sheet.copy()
    duplicated.loc[3, "sample"] = "S1"
    expect_error(r"d.csv: duplicated sample id 'S1'", counts, write(duplicated, tmp_path / "d.csv", index=False))
    twice = matrix.T.copy()
    twice.columns = ["S1", "S2", "S2", "S4"]
    expect_error(r"twice.csv: duplicated column name 'S2'", write(twice, tmp_path / "twice.csv"))


def test_samples_not_in_sheet_and_vice_versa(tmp_path, matrix, sheet):
    counts = write(matrix.T, tmp_path / "counts.csv")
    samples = write(sheet.iloc[:3], tmp_path / "s.csv", index=False)
    message = expect_error("1 samples of counts.csv are not in s.csv", counts, samples)
    assert "'S4'" in message and "join='inner'" in message and "keep the 3 samples" in message
    extra = write(pd.concat([sheet, pd.DataFrame({"sample": ["S5"]})]), tmp_path / "e.csv", index=False)
    expect_error("1 samples of e.csv are not in counts.csv", counts, extra)


@pytest.mark.parametrize(
    "value, problem",
    [(-3, "negative value -3 for sample 'S2', feature 'hsa-miR-122-5p'"),
     ("abc", "non-numeric value 'abc' at row 'hsa-miR-122-5p', column 'S2'"),
     ("", "missing value \\(NaN\\) nan for sample 'S2', feature 'hsa-miR-122-5p'"),
     ("inf", "infinite value inf")],
)
def test_bad_values_are_located(tmp_path, matrix, value, problem):
    table = matrix.T.astype(object)
    table.loc["hsa-miR-122-5p", "S2"] = value
    expect_error(f"bad.csv: {problem}", write(table, tmp_path / "bad.csv"))


def test_ragged_rows(tmp_path):
    (tmp_path / "ragged.csv").write_text("id,S1,S2\nhsa-miR-21-5p,1,2\nhsa-let-7a-5p,1,2,3,4\n")
    expect_error("ragged.csv: malformed expression matrix file", tmp_path / "ragged.csv")


def test_no_known_feature_names(tmp_path, matrix):
    table = matrix.copy()
    table.columns = [f"gene{i}" for i in range(table.shape[1])]
    expect_error("cannot tell whether samples are rows or columns", write(table, tmp_path / "genes.csv"))
    expect_error("none of the 6 feature names reads like a small-RNA name",
                 write(table, tmp_path / "genes2.csv"), orientation="samples_x_features")
    atlas = load_atlas(tmp_path / "genes2.csv", orientation="samples_x_features", check_feature_names=False)
    assert atlas.n_features == 6


def test_label_column_that_does_not_exist(tmp_path, matrix, sheet):
    atlas = load_atlas(write(matrix.T, tmp_path / "c.csv"), write(sheet, tmp_path / "s.csv", index=False))
    with pytest.raises(SrnaInputError, match="label column 'organ' not in the sample sheet; available: study, tissue, age"):
        atlas.labels("organ")


def test_sample_id_column_that_does_not_exist(tmp_path, sheet):
    with pytest.raises(SrnaInputError, match="sample id column 'run' not found"):
        read_sample_sheet(write(sheet, tmp_path / "s.csv", index=False), id_column="run")


def test_feature_name_recognition():
    for name in ["hsa-miR-21-5p", "miR-122", "hsa-let-7a-5p", "piR-hsa-28131", "SNORD44", "tRF-5-Gly-GCC-1", "RNU6-1"]:
        assert looks_like_srna_name(name), name
    for name in ["ENSG00000141510", "TP53", "S1", "SRR1234567"]:
        assert not looks_like_srna_name(name), name


def test_library_calls_are_quiet_unless_messages_are_asked_for(tmp_path, matrix):
    """Messages go to the package logger: nothing on the terminal from a plain call, one line each with show_messages()."""
    import subprocess
    import sys

    counts = write(matrix.T, tmp_path / "counts.csv")
    call = f"from srna_nb.io import load_atlas; load_atlas({str(counts)!r})"
    quiet = subprocess.run([sys.executable, "-c", call], capture_output=True, text=True, check=True)
    assert quiet.stdout == "" and quiet.stderr == ""
    shown = subprocess.run([sys.executable, "-c", "import srna_nb.logs; srna_nb.logs.show_messages(); srna_nb.logs.show_messages(); " + call],
                           capture_output=True, text=True, check=True)
    assert shown.stdout.startswith("Read counts.csv: 4 samples") and shown.stdout.count("Read counts.csv") == 1


def test_values_that_contradict_the_stated_kind_are_refused(tmp_path, matrix):
    counts = write(matrix.T, tmp_path / "counts.csv")  # whole numbers, each sample well under a million
    with pytest.raises(SrnaInputError, match="every value is a whole number: these look like counts"):
        load_atlas(counts, value_kind="rpm")
    deep = write((matrix * 10**4 + 0.5).T, tmp_path / "deep.csv")  # not whole, but a sample sums to millions
    with pytest.raises(SrnaInputError, match="more than a million: these look like counts"):
        load_atlas(deep, value_kind="rpm")
    with pytest.raises(SrnaInputError, match="too large for log2-RPM"):
        load_atlas(counts, value_kind="log2_rpm")
