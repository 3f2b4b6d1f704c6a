"""Expression matrices and sample sheets from CSV/TSV (optionally gzipped), checked cell by cell."""

from __future__ import annotations

import csv
import gzip
import io as _io
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from srna_nb.atlas import VALUE_KINDS
from srna_nb.errors import SrnaInputError
from srna_nb.names import rna_class

Orientation = Literal["auto", "features_x_samples", "samples_x_features"]


def looks_like_srna_name(name: object) -> bool:
    """True when ``name`` reads like a small-RNA feature name (:func:`srna_nb.names.rna_class`)."""
    return rna_class(name) is not None


def known_share(labels: pd.Index) -> float:
    """Share of ``labels`` that read like small-RNA names (0 for none)."""
    if len(labels) == 0:
        return 0.0
    return float(np.mean([looks_like_srna_name(label) for label in labels]))


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


def check_unique(labels: pd.Index, path: Path, what: str) -> None:
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
    # Empty and NA-like cells become NaN here and are reported as missing values by check_values.
    bad = np.isnan(parsed) & ~pd.DataFrame(values).isin(["nan", "NaN", "NA", "", "na", "null", "NULL"]).to_numpy()
    if not bad.any():
        return parsed
    row, col = np.argwhere(bad)[0]
    raise SrnaInputError(
        f"{path}: non-numeric value {str(values[row, col])[:40]!r} at row {frame.index[row]!r}, column {frame.columns[col]!r}"
    )


def read_sample_sheet(path: str | Path, id_column: str | None = None, ignore_columns=(),
                      geo_characteristics: bool = False, text_columns=(), na_values=("", "NA", "NaN", "nan")) -> pd.DataFrame:
    """Read a sample sheet (CSV/TSV) indexed by sample id.

    Parameters
    ----------
    path
        The file.
    id_column
        Column with sample ids; default the first column.
    ignore_columns
        Column names to leave out (every column of that name: GEO tables repeat some).
    geo_characteristics
        The sheet is a GEO series matrix, transposed: each repeated ``!Sample_characteristics_ch1``
        column holds ``key: value`` cells (``age: 52``), which become one column per key; other
        repeated ``!Sample_`` columns keep their first copy.
    text_columns
        Columns kept as text even when every cell reads as a number (codes such as ``01``).
    na_values
        Cells that mean "unknown" (TCGA's site code ``NA`` is a value: pass ``("",)``).
    """
    path = Path(path)
    frame = _read_table(path, "sample sheet")
    if ignore_columns:
        frame = frame.loc[:, ~frame.columns.isin(list(ignore_columns))]
    if geo_characteristics:
        frame = _characteristics_as_columns(frame)
    check_unique(frame.columns, path, "column name")
    id_column = frame.columns[0] if id_column is None else id_column
    if id_column not in frame.columns:
        raise SrnaInputError(f"{path}: sample id column {id_column!r} not found; columns: {', '.join(frame.columns)}")
    ids = frame[id_column].str.strip()
    missing = np.flatnonzero(ids.to_numpy() == "")
    if len(missing):
        raise SrnaInputError(f"{path}: missing sample id in data row {missing[0] + 1} ({len(missing)} rows without id)")
    frame = frame.drop(columns=id_column)
    frame.index = pd.Index(ids, name="sample_id")
    check_unique(frame.index, path, "sample id")
    # Empty cells are missing metadata; numeric columns become numbers.
    frame = frame.mask(frame.isin(list(na_values)))  # mask, not replace: no dtype downcasting under pandas 2
    absent = [c for c in text_columns if c not in frame.columns]
    if absent:
        raise SrnaInputError(f"{path}: no column {absent[0]!r} (named as a text column)")
    for column in frame.columns:
        numeric = pd.to_numeric(frame[column], errors="coerce")
        if column in text_columns:
            frame[column] = frame[column].astype(object)
        elif frame[column].notna().any() and numeric.notna().sum() == frame[column].notna().sum():
            frame[column] = numeric
        else:
            frame[column] = frame[column].astype(object)
    return frame


def _characteristics_as_columns(frame: pd.DataFrame) -> pd.DataFrame:
    repeated = frame.columns.str.startswith("!Sample_characteristics")
    fields: dict[str, list[str]] = {}
    for position, row in enumerate(frame.loc[:, repeated].itertuples(index=False)):
        for cell in row:
            key, sign, value = str(cell).partition(":")
            if sign and key.strip():
                fields.setdefault(key.strip(), [""] * len(frame))[position] = value.strip()
    rest = frame.loc[:, ~repeated]
    rest = rest.loc[:, ~(rest.columns.duplicated() & rest.columns.str.startswith("!Sample_"))]
    extra = pd.DataFrame({k: v for k, v in fields.items() if k not in rest.columns}, index=frame.index)
    return pd.concat([rest, extra], axis=1)


def read_matrix(
    path: str | Path,
    orientation: Orientation = "auto",
    sample_ids: pd.Index | None = None,
    *,
    feature_column: str | None = None,
    annotation_columns: list[str] | tuple[str, ...] = (),
    allow_duplicate_features: bool = False,
    value_kind: str = "counts",
    empty_cells: str = "refuse",
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
    value_kind
        What the values are (:data:`srna_nb.atlas.VALUE_KINDS`): only ``log2_intensity`` may be negative.
    empty_cells
        ``refuse`` (default): an empty cell is an error. ``unmeasured``: an empty cell is an sRNA
        the sample was not measured on (NaN), as in tables that join samples quantified on
        different feature sets (TCGA), never zero.

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
        check_unique(pd.Index(frame.index.unique()), path, "row name")  # still refuses empty names
    else:
        check_unique(frame.index, path, "row name")
    check_unique(frame.columns, path, "column name")
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
    check_values(matrix, path, value_kind, allow_missing=empty_cells == "unmeasured")
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
    rows_known, columns_known = known_share(rows), known_share(columns)
    if rows_known >= 0.5 and rows_known > columns_known:
        return "features_x_samples", f"features in rows, samples in columns ({rows_known:.0%} of row names are small-RNA names)"
    if columns_known >= 0.5 and columns_known > rows_known:
        return "samples_x_features", f"samples in rows, features in columns ({columns_known:.0%} of column names are small-RNA names)"
    raise SrnaInputError(
        f"{path}: cannot tell whether samples are rows or columns (neither side matches the sample sheet ids "
        "or small-RNA names); pass orientation='features_x_samples' or 'samples_x_features'"
    )


def check_values(matrix: pd.DataFrame, path: Path, value_kind: str = "counts", allow_missing: bool = False) -> None:
    values = matrix.to_numpy()
    checks = [("infinite value", np.isinf(values), "")]
    if not allow_missing:
        checks.insert(0, ("missing value (NaN)", np.isnan(values),
                          ": if empty cells mean the sRNA was not measured, read them with empty_cells='unmeasured'"))
    if value_kind != "log2_intensity":
        hint = ("; a log2 array or assay signal is value_kind='log2_intensity'" if value_kind != "log2_rpm" else "")
        checks.append(("negative value", values < 0, f": {value_kind} cannot be negative{hint}"))
    for problem, mask, why in checks:
        if mask.any():
            row, col = np.argwhere(mask)[0]
            raise SrnaInputError(
                f"{path}: {problem} {values[row, col]:g} for sample {matrix.index[row]!r}, feature {matrix.columns[col]!r}"
                f" ({int(mask.sum())} such entries){why}"
            )


def check_value_kind(matrix: np.ndarray, value_kind: str, path: Path) -> None:
    """Refuse inputs that plainly contradict the stated value kind, instead of guessing."""
    if value_kind not in VALUE_KINDS:
        raise SrnaInputError(f"value_kind must be one of {', '.join(VALUE_KINDS)}, got {value_kind!r}")
    if value_kind == "counts" and matrix.size:
        totals = np.nansum(matrix, axis=1)
        whole = np.allclose(matrix, np.round(matrix), equal_nan=True)
        if not whole and np.allclose(totals, 1e6, rtol=0.01):
            raise SrnaInputError(f"{path}: every sample sums to one million: this looks like RPM, pass value_kind='rpm'")
        if not whole and np.nanmax(matrix) < 32:
            raise SrnaInputError(f"{path}: values are small non-integers: this looks log-scaled, pass value_kind='log2_rpm' "
                                 "(sequencing) or 'log2_intensity' (an array or assay signal)")
    if value_kind == "rpm" and matrix.size and np.nan_to_num(matrix).any():
        totals = np.nansum(matrix, axis=1)
        if totals.max() > 1.01e6:
            raise SrnaInputError(f"{path}: a sample sums to {totals.max():,.0f}, more than a million: these look like counts, "
                                 f"pass value_kind='counts'")
        if np.allclose(matrix, np.round(matrix), equal_nan=True):
            raise SrnaInputError(f"{path}: every value is a whole number: these look like counts, not RPM; pass "
                                 f"value_kind='counts' (rounded RPM read as counts gives the same per-million values)")
    if value_kind == "log2_intensity" and matrix.size and np.nanmax(matrix) > 40:
        raise SrnaInputError(f"{path}: values up to {np.nanmax(matrix):,.0f} are too large for a log2 signal: "
                             "pass value_kind='intensity' (linear signal) or 'counts'")
    if value_kind == "log2_rpm" and matrix.size and np.nanmax(matrix) > 32:
        raise SrnaInputError(f"{path}: values up to {matrix.max():,.0f} are too large for log2-RPM (a million is 2^20): "
                             f"pass value_kind='counts' or 'rpm'")
