"""AnnData ``.h5ad`` files in and out, with or without the ``anndata`` package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaInputError
from srna_nb.files import replace_atomically
from srna_nb.io.tables import check_unique, check_value_kind, check_values
from srna_nb.logs import logger
from srna_nb.names import rna_class


def read_h5ad(path: str | Path, *, study_column: str = "study", value_kind: str = "counts") -> Atlas:
    """Read an AnnData ``.h5ad`` file (``X``: samples x features, ``obs``: sample sheet, ``var``: features).

    Read through ``anndata`` when it is installed (it needs pandas < 3); otherwise with h5py
    following the AnnData on-disk format (dense ``X`` or CSR/CSC sparse; ``pip install
    srna_nb[h5ad]``). Either way the values are checked as for any matrix. For an AnnData object
    already in memory, or values in a layer, use :meth:`Atlas.from_anndata`.
    """
    path = Path(path)
    if not path.exists():
        raise SrnaInputError(f"{path}: .h5ad file not found")
    read = _read_h5ad_with_anndata(path, value_kind, study_column)
    if read is not None:
        matrix, obs, var, simulated = read.counts, read.samples, read.features, read.simulated
    else:
        matrix, obs, var, simulated = _read_h5ad_with_h5py(path)
    if matrix.shape != (len(obs), len(var)):
        raise SrnaInputError(f"{path}: X has shape {matrix.shape} but obs/var have {len(obs)}/{len(var)} rows")
    frame = pd.DataFrame(matrix, index=obs.index, columns=var.index)
    check_unique(frame.index, path, "sample id")
    check_unique(frame.columns, path, "feature name")
    check_values(frame, path)
    check_value_kind(matrix, value_kind, path)
    obs.index.name, var.index.name = "sample_id", "feature"
    if "rna_class" not in var.columns:
        var["rna_class"] = [rna_class(n) or "other" for n in var.index]
    # A file written from the simulator stays marked simulated (uns["srna_nb"], see Atlas.to_anndata).
    atlas = Atlas(counts=matrix, samples=obs, features=var, value_kind=value_kind, study_column=study_column,
                  source=str(path), simulated=simulated,
                  provenance={"counts_file": str(path), "orientation": "AnnData: samples in rows"})
    logger.info("Read %s: %d samples x %d features (%s) from AnnData.", path.name, atlas.n_samples, atlas.n_features, value_kind)
    return atlas


def write_h5ad(atlas: Atlas, path: str | Path) -> Path:
    """Write an atlas as an AnnData ``.h5ad`` file through ``anndata`` (see :meth:`Atlas.to_anndata`).

    Written to a temporary file beside ``path`` and renamed, so a failure leaves no partial file.
    """
    adata = atlas.to_anndata()
    return replace_atomically(path, lambda temporary: adata.write_h5ad(temporary))


def _read_h5ad_with_anndata(path: Path, value_kind: str, study_column: str) -> Atlas | None:
    """The file through anndata, or None when anndata is not installed or cannot read it."""
    try:
        import anndata
    except ImportError:
        return None
    try:
        return Atlas.from_anndata(anndata.read_h5ad(path), value_kind=value_kind, study_column=study_column)
    # anndata raises many types on files it does not know (its own registry errors for files
    # written without encoding metadata among them); the h5py reader may still read those.
    except Exception as error:  # noqa: BLE001
        logger.info("anndata could not read %s (%s); reading it with h5py.", path.name, type(error).__name__)
        return None


def _read_h5ad_with_h5py(path: Path) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, bool]:
    """``X``, ``obs``, ``var`` and srna_nb's ``simulated`` mark, read with h5py alone (the fallback without anndata)."""
    try:
        import h5py
    except ImportError:
        raise SrnaInputError(f"{path}: reading .h5ad needs anndata or h5py; pip install anndata (pandas < 3) or 'srna_nb[h5ad]'") from None
    try:
        with h5py.File(path, "r") as handle:
            for key in ("X", "obs", "var"):
                if key not in handle:
                    raise SrnaInputError(f"{path}: not an AnnData file (no '{key}' entry)")
            mark = handle.get("uns/srna_nb/simulated")
            simulated = bool(mark[()]) if mark is not None and not hasattr(mark, "keys") else False
            return _read_h5ad_matrix(handle["X"], path), _read_h5ad_frame(handle["obs"]), _read_h5ad_frame(handle["var"]), simulated
    except OSError as error:
        raise SrnaInputError(f"{path}: cannot read as HDF5 ({error})") from None


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in ("S", "O"):
        return np.array([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    return values


def _read_h5ad_matrix(node, path: Path) -> np.ndarray:
    import h5py
    from scipy import sparse

    if isinstance(node, h5py.Dataset):
        return np.asarray(node[()], dtype=np.float32)
    encoding = node.attrs.get("encoding-type", "")
    encoding = encoding.decode() if isinstance(encoding, bytes) else encoding
    kind = {"csr_matrix": sparse.csr_matrix, "csc_matrix": sparse.csc_matrix}.get(encoding)
    if kind is None:
        raise SrnaInputError(f"{path}: unsupported X encoding {encoding!r}")
    shape = tuple(int(n) for n in node.attrs["shape"])
    return kind((node["data"][()], node["indices"][()], node["indptr"][()]), shape=shape).toarray().astype(np.float32)


def _read_h5ad_frame(group) -> pd.DataFrame:
    index_key = group.attrs.get("_index", "_index")
    index_key = index_key.decode() if isinstance(index_key, bytes) else index_key
    order = [c.decode() if isinstance(c, bytes) else c for c in group.attrs.get("column-order", [])]
    columns = {}
    for name in order:
        node = group[name]
        if "categories" in node:  # categorical: codes into categories, -1 = missing
            categories = _decode(node["categories"][()])
            codes = node["codes"][()]
            columns[name] = np.where(codes >= 0, categories[np.clip(codes, 0, None)], None).astype(object)
        else:
            columns[name] = _decode(node[()])
    frame = pd.DataFrame(columns, index=pd.Index(_decode(group[index_key][()]).astype(str)))
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].where(frame[name].notna(), np.nan)
    return frame
