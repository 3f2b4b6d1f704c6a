"""AnnData interop: Atlas <-> AnnData round trips, and .h5ad read and written through anndata.

anndata needs pandas < 3, so these run in the second CI environment (`make test-interop`: pandas 2 +
anndata); in the locked environment (pandas 3) they skip, unless SRNA_NB_REQUIRE_ANNDATA is set,
which turns a missing anndata into a failure so that the interop run cannot pass by skipping.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from srna_nb.errors import SrnaInputError
from srna_nb.io import load_atlas, read_h5ad, write_h5ad
from srna_nb.atlas import Atlas

if os.environ.get("SRNA_NB_REQUIRE_ANNDATA"):
    import anndata
else:
    anndata = pytest.importorskip("anndata", reason="anndata needs pandas < 3: run by `make test-interop`")


@pytest.fixture(scope="module")
def atlas(small_simulation):
    simulated, _ = small_simulation
    return simulated.subset(samples=np.arange(60), features=np.arange(150))


def _same(first: Atlas, second: Atlas) -> None:
    np.testing.assert_array_equal(first.counts, second.counts)
    assert list(first.sample_ids) == list(second.sample_ids) and list(first.feature_names) == list(second.feature_names)
    for column in first.samples.columns:
        assert first.labels(column).fillna("<NA>").astype(str).tolist() == second.labels(column).fillna("<NA>").astype(str).tolist(), column
    assert first.features["rna_class"].tolist() == second.features["rna_class"].tolist()
    assert (first.value_kind, first.study_column, first.simulated) == (second.value_kind, second.study_column, second.simulated)


def test_atlas_round_trips_through_anndata(atlas):
    adata = atlas.to_anndata()
    assert adata.shape == (atlas.n_samples, atlas.n_features)
    assert list(adata.obs_names) == list(atlas.sample_ids) and list(adata.var_names) == list(atlas.feature_names)
    assert adata.uns["srna_nb"]["value_kind"] == "counts" and adata.uns["srna_nb"]["study_column"] == atlas.study_column
    _same(atlas, Atlas.from_anndata(adata))


def test_h5ad_written_and_read_through_anndata(atlas, tmp_path):
    path = write_h5ad(atlas, tmp_path / "atlas.h5ad")
    assert not [p for p in tmp_path.iterdir() if p.name != "atlas.h5ad"]  # no temporary file left
    again = load_atlas(path, study_column=atlas.study_column)
    _same(atlas, again)
    # The h5py fallback reads the same file to the same atlas.
    from srna_nb.io.h5ad import _read_h5ad_with_h5py

    matrix, obs, var, simulated = _read_h5ad_with_h5py(path)
    np.testing.assert_array_equal(matrix, atlas.counts)
    assert simulated
    assert list(obs.index) == list(atlas.sample_ids) and list(var.index) == list(atlas.feature_names)


def test_from_anndata_reads_a_counts_layer_and_sparse_x(atlas):
    from scipy import sparse

    adata = anndata.AnnData(X=sparse.csr_matrix(np.log1p(atlas.counts)), obs=atlas.samples.copy(), var=atlas.features.drop(columns="rna_class"))
    adata.layers["counts"] = sparse.csr_matrix(atlas.counts)
    read = Atlas.from_anndata(adata, layer="counts", study_column=atlas.study_column)
    np.testing.assert_array_equal(read.counts, atlas.counts)
    assert read.features["rna_class"].tolist() == atlas.features["rna_class"].tolist()  # derived from the names
    assert isinstance(read.labels("tissue").iloc[0], str)
    with pytest.raises(SrnaInputError, match="AnnData has no layer 'spliced'; layers: counts"):
        Atlas.from_anndata(adata, layer="spliced")


def test_foreign_h5ad_is_refused_in_one_line(tmp_path):
    path = tmp_path / "broken.h5ad"
    path.write_bytes(b"not an hdf5 file at all")
    with pytest.raises(SrnaInputError, match="broken.h5ad: cannot read as HDF5") as error:
        read_h5ad(path)
    assert "\n" not in str(error.value)
    # Values checked as for any matrix: log-scaled values stated as counts are refused.
    logged = Atlas(counts=np.array([[1.5], [2.25]]), samples=pd.DataFrame(index=pd.Index(["a", "b"], name="sample_id")),
                   features=pd.DataFrame({"rna_class": ["miRNA"]}, index=pd.Index(["hsa-miR-21-5p"], name="feature")),
                   value_kind="log2_rpm")
    path = write_h5ad(logged, tmp_path / "logged.h5ad")
    with pytest.raises(SrnaInputError, match="logged.h5ad: values are small non-integers: this looks log-scaled"):
        read_h5ad(path, value_kind="counts")
    assert read_h5ad(path, value_kind="log2_rpm").counts.tolist() == [[1.5], [2.25]]
