"""Reading expression matrices and sample sheets into an :class:`~srna_nb.atlas.Atlas`.

What people actually have: a count (or RPM) matrix as CSV/TSV, optionally gzipped, in either
orientation, plus a sample sheet keyed by sample id; or an AnnData ``.h5ad`` file. Every problem
is reported as one line naming the file and what is wrong (:class:`~srna_nb.errors.SrnaInputError`).
Input files are only ever read.
"""

from __future__ import annotations

import csv
import gzip
import io as _io
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from srna_nb.atlas import VALUE_KINDS, Atlas
from srna_nb.errors import SrnaInputError
from srna_nb.files import replace_atomically
from srna_nb.logs import logger
from srna_nb.names import describe_mapping, harmonize_names, rna_class
from srna_nb.preprocessing import from_linear, to_linear

Orientation = Literal["auto", "features_x_samples", "samples_x_features"]


def looks_like_srna_name(name: object) -> bool:
    """True when ``name`` reads like a small-RNA feature name (:func:`srna_nb.names.rna_class`)."""
    return rna_class(name) is not None


def _known_share(labels: pd.Index) -> float:
    if len(labels) == 0:
        return 0.0
    return float(np.mean([looks_like_srna_name(label) for label in labels]))


# -- tables -------------------------------------------------------------------------------------
def _read_table(path: Path, what: str) -> pd.DataFrame:
    """Read a CSV/TSV (optionally .gz) with all cells as strings; first row is the header."""
    if not path.exists():
        raise SrnaInputError(f"{path}: {what} file not found")
    if path.is_dir():
        raise SrnaInputError(f"{path}: is a directory, expected a {what} file")
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except (OSError, EOFError, UnicodeDecodeError) as error:
        raise SrnaInputError(f"{path}: cannot read {what} file ({type(error).__name__}: {error})") from None
    if not text.strip():
        raise SrnaInputError(f"{path}: {what} file is empty")
    first_line = text.split("\n", 1)[0]
    sep = "\t" if first_line.count("\t") > first_line.count(",") else ","
    try:
        # header=None: pandas would rename duplicated column names ("S2.1") instead of showing them.
        raw = pd.read_csv(
            _io.StringIO(text), sep=sep, dtype=str, header=None, keep_default_na=False, na_filter=False,
            quoting=csv.QUOTE_MINIMAL, skip_blank_lines=True,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as error:
        raise SrnaInputError(f"{path}: malformed {what} file: {str(error).strip().splitlines()[-1]}") from None
    frame = raw.iloc[1:].reset_index(drop=True)
    frame.columns = pd.Index([str(c).strip() for c in raw.iloc[0]])
    if frame.shape[0] == 0:
        raise SrnaInputError(f"{path}: {what} file has a header but no data rows")
    if frame.shape[1] < 2:
        raise SrnaInputError(f"{path}: {what} file has a single column; expected ids plus values (comma- or tab-separated)")
    unnamed = [position for position, name in enumerate(frame.columns) if position and name == ""]
    if unnamed:
        raise SrnaInputError(f"{path}: {what} file has a column without a name (column {unnamed[0] + 1})")
    return frame


def _check_unique(labels: pd.Index, path: Path, what: str) -> None:
    blank = [i for i, label in enumerate(labels) if str(label).strip() == ""]
    if blank:
        raise SrnaInputError(f"{path}: missing {what} (empty name at position {blank[0] + 1})")
    duplicated = labels[labels.duplicated()]
    if len(duplicated):
        raise SrnaInputError(f"{path}: duplicated {what} {str(duplicated[0])!r} ({len(duplicated)} duplicates)")


def _to_numbers(frame: pd.DataFrame, path: Path) -> np.ndarray:
    """Parse every cell as a float; name the first cell that is not a number."""
    values = frame.to_numpy(dtype=object)
    try:
        return values.astype(np.float64)
    except (ValueError, TypeError):
        pass
    parsed = pd.DataFrame(values).apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    # Empty and NA-like cells become NaN here and are reported as missing values by _check_values.
    bad = np.isnan(parsed) & ~pd.DataFrame(values).isin(["nan", "NaN", "NA", "", "na", "null", "NULL"]).to_numpy()
    if not bad.any():
        return parsed
    row, col = np.argwhere(bad)[0]
    raise SrnaInputError(
        f"{path}: non-numeric value {str(values[row, col])[:40]!r} at row {frame.index[row]!r}, column {frame.columns[col]!r}"
    )


def read_sample_sheet(path: str | Path, id_column: str | None = None) -> pd.DataFrame:
    """Read a sample sheet (CSV/TSV) indexed by sample id.

    Parameters
    ----------
    path
        The file.
    id_column
        Column with sample ids; default the first column.
    """
    path = Path(path)
    frame = _read_table(path, "sample sheet")
    _check_unique(frame.columns, path, "column name")
    id_column = frame.columns[0] if id_column is None else id_column
    if id_column not in frame.columns:
        raise SrnaInputError(f"{path}: sample id column {id_column!r} not found; columns: {', '.join(frame.columns)}")
    ids = frame[id_column].str.strip()
    missing = np.flatnonzero(ids.to_numpy() == "")
    if len(missing):
        raise SrnaInputError(f"{path}: missing sample id in data row {missing[0] + 1} ({len(missing)} rows without id)")
    frame = frame.drop(columns=id_column)
    frame.index = pd.Index(ids, name="sample_id")
    _check_unique(frame.index, path, "sample id")
    # Empty cells are missing metadata; numeric columns become numbers.
    frame = frame.mask(frame.isin(["", "NA", "NaN", "nan"]))  # mask, not replace: no dtype downcasting under pandas 2
    for column in frame.columns:
        numeric = pd.to_numeric(frame[column], errors="coerce")
        if frame[column].notna().any() and numeric.notna().sum() == frame[column].notna().sum():
            frame[column] = numeric
        else:
            frame[column] = frame[column].astype(object)
    return frame


def read_matrix(
    path: str | Path,
    orientation: Orientation = "auto",
    sample_ids: pd.Index | None = None,
    *,
    feature_column: str | None = None,
    annotation_columns: list[str] | tuple[str, ...] = (),
    allow_duplicate_features: bool = False,
) -> tuple[pd.DataFrame, str, pd.DataFrame | None]:
    """Read an expression matrix and return it with samples in rows, plus how it was oriented.

    Parameters
    ----------
    path
        CSV or TSV, optionally gzipped; first column holds the row names.
    orientation
        ``features_x_samples`` (as most bulk tools write it), ``samples_x_features``, or
        ``auto``: decided from which side holds ids of ``sample_ids`` (a sample sheet's ids) or,
        without them, which side holds small-RNA names. When neither tells, an error asks for it.

    feature_column, annotation_columns
        For matrices with features in rows that carry annotation columns before the samples
        (coordinates, accessions, ...): the column holding the feature names (default: the
        first column) and the other columns that are annotations, not samples.
    allow_duplicate_features
        Accept a feature name on several rows (one per genomic locus; the loader sums them
        after name harmonization). Duplicated sample ids are always refused.

    Returns
    -------
    matrix, note, annotations
        Samples x features DataFrame of float64 (duplicated feature names kept as they are), a
        sentence saying which orientation was assumed and why, and the annotation columns (one
        row per matrix feature, in order) or None.
    """
    path = Path(path)
    frame = _read_table(path, "expression matrix")
    annotation_columns = list(annotation_columns)
    if feature_column is not None or annotation_columns:
        if orientation == "samples_x_features":
            raise SrnaInputError(f"{path}: feature_column / annotation_columns need features in rows")
        feature_column = frame.columns[0] if feature_column is None else feature_column
        for column in [feature_column, *annotation_columns]:
            if column not in frame.columns:
                raise SrnaInputError(f"{path}: column {column!r} not found; columns start with {', '.join(frame.columns[:8])}")
        annotations = frame[annotation_columns].copy() if annotation_columns else None
        frame = frame.drop(columns=annotation_columns).set_index(feature_column)
        orientation = "features_x_samples"
    else:
        annotations = None
        frame = frame.set_index(frame.columns[0])
    frame.index = frame.index.str.strip()
    frame.columns = frame.columns.str.strip()
    if allow_duplicate_features:
        _check_unique(pd.Index(frame.index.unique()), path, "row name")  # still refuses empty names
    else:
        _check_unique(frame.index, path, "row name")
    _check_unique(frame.columns, path, "column name")
    values = _to_numbers(frame, path)

    if orientation == "auto":
        orientation, note = _detect_orientation(frame.index, frame.columns, sample_ids, path)
    elif orientation in ("features_x_samples", "samples_x_features"):
        note = f"orientation {orientation} as given"
    else:
        raise SrnaInputError(f"orientation must be auto, features_x_samples or samples_x_features, got {orientation!r}")
    matrix = pd.DataFrame(values, index=frame.index, columns=frame.columns)
    if orientation == "features_x_samples":
        matrix = matrix.T
    matrix.index.name, matrix.columns.name = "sample_id", "feature"
    _check_values(matrix, path)
    if annotations is not None:
        annotations.index = matrix.columns
    return matrix, note, annotations


def _detect_orientation(rows: pd.Index, columns: pd.Index, sample_ids, path: Path) -> tuple[str, str]:
    if sample_ids is not None:
        in_columns, in_rows = columns.isin(sample_ids).sum(), rows.isin(sample_ids).sum()
        if in_columns > in_rows:
            return "features_x_samples", f"features in rows, samples in columns ({in_columns} of {len(columns)} column names are sample-sheet ids)"
        if in_rows > in_columns:
            return "samples_x_features", f"samples in rows, features in columns ({in_rows} of {len(rows)} row names are sample-sheet ids)"
    rows_known, columns_known = _known_share(rows), _known_share(columns)
    if rows_known >= 0.5 and rows_known > columns_known:
        return "features_x_samples", f"features in rows, samples in columns ({rows_known:.0%} of row names are small-RNA names)"
    if columns_known >= 0.5 and columns_known > rows_known:
        return "samples_x_features", f"samples in rows, features in columns ({columns_known:.0%} of column names are small-RNA names)"
    raise SrnaInputError(
        f"{path}: cannot tell whether samples are rows or columns (neither side matches the sample sheet ids "
        "or small-RNA names); pass orientation='features_x_samples' or 'samples_x_features'"
    )


def _check_values(matrix: pd.DataFrame, path: Path) -> None:
    values = matrix.to_numpy()
    for problem, mask in (("missing value (NaN)", np.isnan(values)), ("infinite value", np.isinf(values)), ("negative value", values < 0)):
        if mask.any():
            row, col = np.argwhere(mask)[0]
            raise SrnaInputError(
                f"{path}: {problem} {values[row, col]:g} for sample {matrix.index[row]!r}, feature {matrix.columns[col]!r}"
                f" ({int(mask.sum())} such entries)"
            )


def _check_value_kind(matrix: np.ndarray, value_kind: str, path: Path) -> None:
    """Refuse inputs that plainly contradict the stated value kind, instead of guessing."""
    if value_kind not in VALUE_KINDS:
        raise SrnaInputError(f"value_kind must be one of {', '.join(VALUE_KINDS)}, got {value_kind!r}")
    if value_kind == "counts" and matrix.size:
        totals = matrix.sum(axis=1)
        whole = np.allclose(matrix, np.round(matrix))
        if not whole and np.allclose(totals, 1e6, rtol=0.01):
            raise SrnaInputError(f"{path}: every sample sums to one million: this looks like RPM, pass value_kind='rpm'")
        if not whole and matrix.max() < 32:
            raise SrnaInputError(f"{path}: values are small non-integers: this looks log-scaled, pass value_kind='log2_rpm'")
    if value_kind == "rpm" and matrix.size and matrix.any():
        totals = matrix.sum(axis=1)
        if totals.max() > 1.01e6:
            raise SrnaInputError(f"{path}: a sample sums to {totals.max():,.0f}, more than a million: these look like counts, "
                                 f"pass value_kind='counts'")
        if np.allclose(matrix, np.round(matrix)):
            raise SrnaInputError(f"{path}: every value is a whole number: these look like counts, not RPM; pass "
                                 f"value_kind='counts' (rounded RPM read as counts gives the same per-million values)")
    if value_kind == "log2_rpm" and matrix.size and matrix.max() > 32:
        raise SrnaInputError(f"{path}: values up to {matrix.max():,.0f} are too large for log2-RPM (a million is 2^20): "
                             f"pass value_kind='counts' or 'rpm'")


def load_atlas(
    counts: str | Path,
    samples: str | Path | pd.DataFrame | None = None,
    *,
    id_column: str | None = None,
    study_column: str = "study",
    orientation: Orientation = "auto",
    value_kind: str = "counts",
    join: Literal["strict", "inner"] = "strict",
    check_feature_names: bool = True,
    harmonize: bool = True,
    feature_column: str | None = None,
    accession_column: str | None = None,
    annotation_columns: list[str] | tuple[str, ...] = (),
) -> Atlas:
    """Read an expression matrix and its sample sheet into one :class:`Atlas`.

    Parameters
    ----------
    counts
        Expression matrix (CSV/TSV/.gz, either orientation) or an ``.h5ad`` file.
    samples
        Sample sheet keyed by sample id (CSV/TSV, or a DataFrame indexed by sample id); optional.
    id_column
        Sample id column of the sheet (default: its first column).
    study_column
        Column naming each sample's study, used to hold out whole studies.
    orientation
        See :func:`read_matrix`.
    value_kind
        ``counts``, ``rpm`` or ``log2_rpm``: what the numbers are. Stated, never guessed.
    join
        ``strict``: every matrix sample must be in the sheet and vice versa, else an error
        that counts both sides. ``inner``: keep the samples present in both, and say so.
    check_feature_names
        Refuse a matrix none of whose feature names reads like a small-RNA name (often a
        transposed or wrong file). Switch off for custom feature ids.
    harmonize
        Map miRNA names to current miRBase names (:func:`srna_nb.names.harmonize_names`) and
        sum the rows that count the same miRNA (one per genomic locus, or old and new names);
        prints one line of counts. The full mapping is ``atlas.provenance["name_mapping"]``.
        A feature name on several rows is accepted only when harmonizing (and only for miRNAs).
        For counts and RPM rows are summed; log2 values are summed on the linear scale.
    feature_column, accession_column, annotation_columns
        For matrices whose feature rows carry annotation columns before the samples: the column
        of feature names (default: the first), an optional column holding MIMAT accessions
        (used before the names), and the other annotation columns; none of them is a sample.
    """
    counts = Path(counts)
    if counts.suffix == ".h5ad":
        return read_h5ad(counts, study_column=study_column, value_kind=value_kind)
    if isinstance(samples, pd.DataFrame):
        sheet, sheet_name = samples, "the sample sheet"
    else:
        sheet = read_sample_sheet(samples, id_column=id_column) if samples is not None else None
        sheet_name = None if samples is None else Path(samples).name
    annotation_columns = [*annotation_columns, *([accession_column] if accession_column else [])]
    matrix, note, annotations = read_matrix(
        counts, orientation=orientation, sample_ids=None if sheet is None else sheet.index,
        feature_column=feature_column, annotation_columns=annotation_columns, allow_duplicate_features=harmonize,
    )
    if check_feature_names and _known_share(matrix.columns) == 0:
        raise SrnaInputError(
            f"{counts}: none of the {matrix.shape[1]} feature names reads like a small-RNA name "
            f"(e.g. {str(matrix.columns[0])!r}); wrong file or orientation? (check_feature_names=False accepts custom ids)"
        )
    _check_value_kind(matrix.to_numpy(), value_kind, counts)
    provenance = {"counts_file": str(counts), "orientation": note}
    if sheet is None:
        sheet = pd.DataFrame(index=matrix.index.copy())
    else:
        if not isinstance(samples, pd.DataFrame):
            provenance["sample_sheet"] = str(samples)
        matrix, sheet = _join(matrix, sheet, counts, sheet_name, join, provenance)
    values, features = matrix.to_numpy(dtype=np.float64), pd.DataFrame(index=pd.Index(matrix.columns, name="feature"))
    if harmonize:
        accessions = None if accession_column is None else annotations[accession_column].to_numpy()
        values, features, mapping = _harmonize(values, matrix.columns, accessions, value_kind, counts)
        provenance["name_mapping"] = mapping
        provenance["names"] = describe_mapping(mapping)
    features.insert(0, "rna_class", [rna_class(n) or "other" for n in features.index])
    atlas = Atlas(
        counts=values.astype(np.float32),
        samples=sheet,
        features=features,
        value_kind=value_kind,
        study_column=study_column,
        source=str(counts),
        provenance=provenance,
    )
    logger.info("Read %s: %d samples x %d features (%s); %s.", counts.name, atlas.n_samples, atlas.n_features, value_kind, note)
    for key in ("join", "names"):
        if key in provenance:
            logger.info(provenance[key])
    return atlas


def _harmonize(values: np.ndarray, names: pd.Index, accessions, value_kind: str, path: Path):
    """Harmonized names; rows that count the same miRNA summed (on the linear scale for log2 values)."""
    mapping = harmonize_names(list(names), accessions)
    duplicated_other = mapping.loc[(mapping["status"] == "other") & mapping["input"].duplicated(keep=False), "input"]
    if len(duplicated_other):
        raise SrnaInputError(f"{path}: duplicated row name {duplicated_other.iloc[0]!r} ({len(duplicated_other) - 1} duplicates)")
    groups, first = pd.factorize(mapping["members"])
    if len(first) < len(mapping):
        summed = np.zeros((values.shape[0], len(first)))
        np.add.at(summed.T, groups, to_linear(values, value_kind, to_rpm=False).T)
        values = from_linear(summed, value_kind)
    keep = ~pd.Index(groups).duplicated()  # the first row of each miRNA names it
    statuses = mapping.groupby(groups)["status"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else "renamed")
    features = pd.DataFrame({"accession": mapping.loc[keep, "accession"].to_numpy(), "name_status": statuses.to_numpy()},
                            index=pd.Index(mapping.loc[keep, "feature"].to_numpy(), name="feature"))
    return values, _unique_names(features, path), mapping


def _unique_names(features: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Two different identities with one display name (rare: an unknown name equal to another's) are refused."""
    duplicated = features.index[features.index.duplicated()]
    if len(duplicated):
        raise SrnaInputError(f"{path}: two different features are both named {duplicated[0]!r} after name harmonization; "
                             "pass harmonize=False to keep the names as they are")
    return features


def name_mapping(atlas: Atlas) -> pd.DataFrame:
    """How the loader mapped each input row's name (see :func:`srna_nb.names.harmonize_names`)."""
    mapping = atlas.provenance.get("name_mapping")
    if mapping is None:
        raise SrnaInputError(f"{atlas.source}: loaded without name harmonization (harmonize=False)")
    return mapping


def _join(matrix, sheet, counts_path, sheet_name, join, provenance):
    only_matrix = matrix.index.difference(sheet.index, sort=False)
    only_sheet = sheet.index.difference(matrix.index, sort=False)
    if len(only_matrix) or len(only_sheet):
        common = matrix.index.intersection(sheet.index, sort=False)
        summary = (
            f"{len(only_matrix)} samples of {counts_path.name} are not in {sheet_name}"
            + (f" (e.g. {only_matrix[0]!r})" if len(only_matrix) else "")
            + f" and {len(only_sheet)} samples of {sheet_name} are not in {counts_path.name}"
            + (f" (e.g. {only_sheet[0]!r})" if len(only_sheet) else "")
        )
        if join == "strict":
            raise SrnaInputError(f"{summary}; pass join='inner' to keep the {len(common)} samples in both")
        if join != "inner":
            raise SrnaInputError(f"join must be 'strict' or 'inner', got {join!r}")
        if len(common) == 0:
            raise SrnaInputError(f"no sample id of {counts_path.name} is in {sheet_name}")
        provenance["join"] = f"Kept the {len(common)} samples present in both files: {summary}."
        matrix = matrix.loc[common]
    return matrix, sheet.loc[matrix.index]


# -- AnnData ------------------------------------------------------------------------------------
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
    _check_unique(frame.index, path, "sample id")
    _check_unique(frame.columns, path, "feature name")
    _check_values(frame, path)
    _check_value_kind(matrix, value_kind, path)
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
