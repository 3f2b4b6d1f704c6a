"""Manifests: several atlases for one training, one row per atlas in a CSV or TSV file.

Columns (a header row names them; order free):

``atlas``
    A name for the atlas (its pipeline or lab), unique in the file; becomes the ``atlas`` column
    and the prefix of every study.
``counts``, ``samples``
    The expression matrix and its sample sheet, as :func:`srna_nb.io.load_atlas` reads them;
    relative paths are relative to the manifest's folder.
``value_kind`` (optional)
    ``counts`` (default), ``rpm`` or ``log2_rpm``.
``id_column``, ``study_column`` (optional)
    The sheet's sample id column (default: its first) and study column (default ``study``).
``sample_types`` (optional)
    A source of the sample-type table (:mod:`srna_nb.vocabulary`), such as ``microrna_atlas``:
    adds a ``sample_type`` column mapped from the sheet's own labels.
``where`` (optional)
    Keep only some samples: ``column=value`` or ``column=value1|value2``.

Every problem is refused in one line naming the manifest, the row and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from srna_nb.atlas import VALUE_KINDS, Atlas
from srna_nb.errors import SrnaInputError

__all__ = ["MANIFEST_COLUMNS", "ManifestRow", "load_manifest", "read_manifest"]

REQUIRED = ("atlas", "counts", "samples")
OPTIONAL = ("value_kind", "id_column", "study_column", "sample_types", "where")
MANIFEST_COLUMNS = REQUIRED + OPTIONAL


@dataclass(frozen=True)
class ManifestRow:
    """One atlas of a manifest, paths resolved."""

    row: int
    atlas: str
    counts: Path
    samples: Path
    value_kind: str = "counts"
    id_column: str | None = None
    study_column: str = "study"
    sample_types: str | None = None
    where: tuple[str, tuple[str, ...]] | None = None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """The rows of a manifest, checked (files exist, names unique, known value kinds)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t" if path.suffix.lower() in (".tsv", ".txt") else ",", dtype=str,
                            keep_default_na=False)
    except (OSError, ValueError) as error:
        raise SrnaInputError(f"{path}: cannot read the manifest ({error})") from None
    table.columns = [str(c).strip() for c in table.columns]
    unknown = [c for c in table.columns if c not in MANIFEST_COLUMNS]
    if unknown:
        raise SrnaInputError(f"{path}: unknown column {unknown[0]!r}; a manifest has {', '.join(MANIFEST_COLUMNS)}")
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise SrnaInputError(f"{path}: no {missing[0]!r} column; a manifest needs {', '.join(REQUIRED)}")
    if table.empty:
        raise SrnaInputError(f"{path}: no atlases listed")
    rows, seen = [], {}
    for number, cells in enumerate(table.to_dict("records"), start=2):  # row 1 is the header
        cells = {key: value.strip() for key, value in cells.items()}
        where = f"{path}, row {number}"
        for column in REQUIRED:
            if not cells[column]:
                raise SrnaInputError(f"{where}: empty {column!r}")
        name = cells["atlas"]
        if name in seen:
            raise SrnaInputError(f"{where}: atlas {name!r} is listed already in row {seen[name]}")
        seen[name] = number
        files = {}
        for column in ("counts", "samples"):
            file = Path(cells[column])
            file = file if file.is_absolute() else path.parent / file
            if not file.exists():
                raise SrnaInputError(f"{where}: {column} file {file} does not exist")
            files[column] = file
        kind = cells.get("value_kind") or "counts"
        if kind not in VALUE_KINDS:
            raise SrnaInputError(f"{where}: value_kind must be one of {', '.join(VALUE_KINDS)}, got {kind!r}")
        rows.append(ManifestRow(number, name, files["counts"], files["samples"], kind, cells.get("id_column") or None,
                                cells.get("study_column") or "study", cells.get("sample_types") or None,
                                _where(cells.get("where", ""), where)))
    return rows


def _where(text: str, where: str) -> tuple[str, tuple[str, ...]] | None:
    if not text:
        return None
    column, sign, values = text.partition("=")
    allowed = tuple(v.strip() for v in values.split("|") if v.strip())
    if not sign or not column.strip() or not allowed:
        raise SrnaInputError(f"{where}: where must read column=value or column=value1|value2, got {text!r}")
    return column.strip(), allowed


def load_manifest(path: str | Path) -> dict[str, Atlas]:
    """Atlas name -> Atlas for every row of a manifest (see the module's docstring).

    Errors while reading one atlas name the manifest and row before the file's own message.
    """
    from srna_nb.io import load_atlas
    from srna_nb.vocabulary import sample_types

    atlases = {}
    for row in read_manifest(path):
        where = f"{path}, row {row.row} ({row.atlas})"
        try:
            atlas = load_atlas(row.counts, row.samples, id_column=row.id_column, study_column=row.study_column,
                               value_kind=row.value_kind, join="inner")
            if row.study_column not in atlas.samples.columns:
                raise SrnaInputError(f"{row.samples}: no study column {row.study_column!r}; name it in study_column")
            if row.where is not None:
                column, allowed = row.where
                atlas = atlas.subset(samples=atlas.labels(column).isin(list(allowed)).to_numpy())
                if atlas.n_samples == 0:
                    raise SrnaInputError(f"no sample has {column} in {', '.join(allowed)}")
            if row.sample_types is not None:
                atlas.samples["sample_type"] = sample_types(atlas.samples, row.sample_types)
        except SrnaInputError as error:
            raise SrnaInputError(f"{where}: {error}") from None
        atlases[row.atlas] = atlas
    return atlases
