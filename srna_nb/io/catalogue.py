"""Public atlases as data: short declarative descriptions, read by one loader.

Each atlas srna_nb knows is an entry of ``srna_nb/data/atlases.yaml``: its files, what the values
are (``value_kind``), what a row counts (``feature_level``), the study and subject columns used
to hold whole groups out, and how its own label columns map to the standard ``sample_type``,
``sex``, ``age`` (and ``organ``). :func:`load_catalogue_atlas` reads one entry from a data folder;
:func:`load_atlases` every entry found there. A user's own manifest (``srna-nb train --manifest
my_atlases.yaml``) has the same format, with paths relative to the manifest (:func:`read_catalogue`).

Standard columns an entry's atlas gets: ``study`` (from ``study`` or ``study_value``), ``subject``
(when declared) and one per label: ``sample_type`` by the rules of the sample-type table
(:mod:`srna_nb.vocabulary`), ``sex`` (``male`` / ``female``, anything else unknown), ``age``
(years, non-numbers unknown), other labels mapped by their ``values``. The sheet's own columns
stay beside them. A mistake in a description is one line naming the file, the entry and the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from srna_nb.atlas import VALUE_KINDS, Atlas
from srna_nb.errors import SrnaInputError
from srna_nb.hairpins import FEATURE_LEVELS
from srna_nb.io.loading import load_atlas
from srna_nb.io.tables import read_sample_sheet
from srna_nb.logs import logger

__all__ = ["AtlasDescription", "CATALOGUE", "catalogue", "load_atlases", "load_catalogue_atlas", "read_catalogue"]

#: The shipped catalogue.
CATALOGUE = "data/atlases.yaml"
SEXES = ("male", "female")


@dataclass(frozen=True)
class AtlasDescription:
    """One atlas of a catalogue (see the module docstring and ``srna_nb/data/atlases.yaml``)."""

    name: str
    counts: str
    samples: str
    value_kind: str
    feature_level: str = "mature"
    folder: str = "."
    title: str = ""
    licence: str = ""
    id_column: str | None = None
    study: str | None = None
    study_value: str | None = None
    subject: str | None = None
    sheet_format: str = "table"
    ignore_columns: tuple = ()
    text_columns: tuple = ()
    na_values: tuple = ("", "NA", "NaN", "nan")
    copy: dict = field(default_factory=dict)
    where: dict = field(default_factory=dict)
    drop_features: str | None = None
    empty_cells: str = "refuse"
    join: str = "strict"
    feature_column: str | None = None
    accession_column: str | None = None
    annotation_columns: tuple = ()
    labels: dict = field(default_factory=dict)
    source: str = ""

    def files(self, root: str | Path) -> tuple[Path, Path]:
        """The matrix and sample sheet of this atlas under ``root`` (a data folder, or a manifest's folder)."""
        folder = Path(root) / self.folder
        return folder / self.counts, folder / self.samples

    def found_in(self, root: str | Path) -> bool:
        return all(path.exists() for path in self.files(root))


_FIELDS = {f.name for f in fields(AtlasDescription)} - {"name", "source"}
_REQUIRED = ("counts", "samples", "value_kind")
_SHEET_FORMATS = ("table", "geo_characteristics")


def read_catalogue(path: str | Path | None = None) -> dict[str, AtlasDescription]:
    """Name -> description of every atlas in a catalogue file (default: the shipped one), checked."""
    if path is None:
        source = f"srna_nb/{CATALOGUE}"
        text = resources.files("srna_nb").joinpath(CATALOGUE).read_text()
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise SrnaInputError(f"{path}: cannot read the atlas catalogue ({error.strerror or error})") from None
    try:
        entries = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SrnaInputError(f"{source}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(entries, dict) or not entries:
        raise SrnaInputError(f"{source}: expected one entry per atlas (name: fields), found none")
    return {str(name): _description(str(name), entry, source) for name, entry in entries.items()}


def _description(name: str, entry, source: str) -> AtlasDescription:
    where = f"{source}, atlas {name!r}"
    if not isinstance(entry, dict):
        raise SrnaInputError(f"{where}: expected fields (counts, samples, value_kind ...), got {entry!r}")
    unknown = sorted(set(entry) - _FIELDS)
    if unknown:
        raise SrnaInputError(f"{where}: unknown field {unknown[0]!r}; fields are {', '.join(sorted(_FIELDS))}")
    missing = [key for key in _REQUIRED if not entry.get(key)]
    if missing:
        raise SrnaInputError(f"{where}: no {missing[0]!r}")
    checks = (("value_kind", VALUE_KINDS), ("feature_level", FEATURE_LEVELS), ("sheet_format", _SHEET_FORMATS),
              ("empty_cells", ("refuse", "unmeasured")), ("join", ("strict", "inner")))
    for key, allowed in checks:
        if key in entry and entry[key] not in allowed:
            raise SrnaInputError(f"{where}: {key} must be one of {', '.join(allowed)}, got {entry[key]!r}")
    if bool(entry.get("study")) == bool(entry.get("study_value")):
        raise SrnaInputError(f"{where}: give either study (a column) or study_value (one study for every sample)")
    labels = entry.get("labels") or {}
    if not isinstance(labels, dict):
        raise SrnaInputError(f"{where}: labels must map a label to its rule, got {labels!r}")
    for label, rule in labels.items():
        if label == "sample_type":
            if not (isinstance(rule, str) or isinstance(rule, dict) and rule.get("rules")):
                raise SrnaInputError(f"{where}: labels.sample_type needs rules (a source of the sample-type table)")
        elif not isinstance(rule, dict) or not rule.get("column"):
            raise SrnaInputError(f"{where}: labels.{label} needs a column")
    options = {key: tuple(value) if key in ("ignore_columns", "annotation_columns", "text_columns", "na_values") else value
               for key, value in entry.items()}
    if options.get("study_value") is not None:
        options["study_value"] = str(options["study_value"])
    return AtlasDescription(name=name, source=source, **options)


def catalogue() -> dict[str, AtlasDescription]:
    """The shipped catalogue of public atlases."""
    return read_catalogue()


def load_catalogue_atlas(description: AtlasDescription | str, root: str | Path) -> Atlas:
    """Read one described atlas from ``root`` (the folder holding its ``folder``), with its standard columns."""
    if isinstance(description, str):
        known = catalogue()
        if description not in known:
            raise SrnaInputError(f"no atlas {description!r} in the catalogue; it has {', '.join(known)}")
        description = known[description]
    counts, samples = description.files(root)
    where = f"atlas {description.name!r} ({description.source})"
    try:
        sheet = _sheet(description, samples)
        atlas = load_atlas(
            counts, sheet, study_column="study", value_kind=description.value_kind, join=description.join,
            feature_level=description.feature_level, empty_cells=description.empty_cells,
            drop_features=description.drop_features, feature_column=description.feature_column,
            accession_column=description.accession_column, annotation_columns=description.annotation_columns,
            orientation="features_x_samples",
        )
    except SrnaInputError as error:
        raise SrnaInputError(f"{where}: {error}") from None
    atlas.provenance["sample_sheet"] = str(samples)
    atlas.provenance["catalogue"] = description.name
    return atlas


def _sheet(description: AtlasDescription, path: Path) -> pd.DataFrame:
    """The sample sheet with its standard columns (study, subject, labels) added; rows outside ``where`` dropped."""
    sheet = read_sample_sheet(path, id_column=description.id_column, ignore_columns=description.ignore_columns,
                              geo_characteristics=description.sheet_format == "geo_characteristics",
                              text_columns=description.text_columns, na_values=description.na_values)
    for new, old in description.copy.items():
        sheet[new] = _column(sheet, old, path, "copy").astype(object)
    for column, allowed in description.where.items():
        allowed = [allowed] if isinstance(allowed, (str, int, float)) else list(allowed)
        keep = _column(sheet, column, path, "where").astype(str).isin(list(map(str, allowed)))
        if not keep.any():
            raise SrnaInputError(f"{path}: no sample has {column} in {', '.join(map(str, allowed))}")
        sheet = sheet.loc[keep.to_numpy()]
    labels = {label: _label(sheet, label, rule, description, path) for label, rule in description.labels.items()}
    study = (pd.Series(description.study_value, index=sheet.index) if description.study_value
             else _column(sheet, description.study, path, "study").astype(str))
    if description.study and study.isna().any():
        raise SrnaInputError(f"{path}: column {description.study!r} (the study) is empty for sample {study.index[study.isna()][0]!r}")
    sheet["study"] = study.astype(object)
    if description.subject:
        sheet["subject"] = _column(sheet, description.subject, path, "subject").astype(object)
    for label, values in labels.items():
        sheet[label] = values
    return sheet


def _column(sheet: pd.DataFrame, column: str, path: Path, purpose: str) -> pd.Series:
    if column not in sheet.columns:
        raise SrnaInputError(f"{path}: no column {column!r} (named by {purpose}); columns: {', '.join(map(str, sheet.columns[:12]))}")
    return sheet[column]


def _label(sheet: pd.DataFrame, label: str, rule, description: AtlasDescription, path: Path) -> pd.Series:
    from srna_nb.vocabulary import sample_types

    if label == "sample_type":
        rule = {"rules": rule} if isinstance(rule, str) else rule
        typed = sample_types(sheet, rule["rules"])
        for column, allowed in (rule.get("where") or {}).items():
            allowed = [allowed] if isinstance(allowed, str) else list(allowed)
            typed = typed.where(_column(sheet, column, path, f"labels.{label}.where").astype(str).isin(allowed))
        return typed.astype(object)
    raw = _column(sheet, rule["column"], path, f"labels.{label}")
    if label == "age":
        return pd.to_numeric(raw, errors="coerce")
    text = raw.astype(str).str.strip().where(raw.notna())
    mapping = {str(k).strip().casefold(): v for k, v in (rule.get("values") or {}).items()}
    if mapping:
        mapped = text.str.casefold().map(mapping)
        text = mapped.where(mapped.notna(), text if label != "sex" else np.nan)
    if label == "sex":
        text = text.str.lower()
        text = text.where(text.isin(SEXES))
    return text.astype(object)


def load_atlases(root: str | Path, names=None, labelled: str | None = None,
                 descriptions: dict[str, AtlasDescription] | None = None) -> dict[str, Atlas]:
    """Every catalogue atlas found under ``root``, by name.

    Parameters
    ----------
    root
        A data folder such as ``../shared/data`` (or a manifest's folder).
    names
        Only these atlases (each must be found); default every one whose files are there.
    labelled
        Keep only atlases with this label, and in each only the samples that have it
        (e.g. ``"sample_type"``: cell lines and metastases out).
    descriptions
        The catalogue (default: the shipped one; :func:`read_catalogue` reads a user's).
    """
    descriptions = catalogue() if descriptions is None else descriptions
    if names is not None:
        unknown = [n for n in names if n not in descriptions]
        if unknown:
            raise SrnaInputError(f"no atlas {unknown[0]!r} in the catalogue; it has {', '.join(descriptions)}")
        chosen = {n: descriptions[n] for n in names}
        absent = [n for n, d in chosen.items() if not d.found_in(root)]
        if absent:
            raise SrnaInputError(f"{root}: atlas {absent[0]!r} is not there (expected {descriptions[absent[0]].files(root)[0]})")
    else:
        chosen = {n: d for n, d in descriptions.items() if d.found_in(root)}
    if labelled is not None:
        chosen = {n: d for n, d in chosen.items() if labelled in d.labels}
    if not chosen:
        raise SrnaInputError(f"{root}: none of the catalogue's atlases{' with ' + labelled if labelled else ''} is here "
                             f"({', '.join(descriptions)})")
    atlases = {}
    for name, description in chosen.items():
        atlas = load_catalogue_atlas(description, root)
        if labelled is not None:
            keep = atlas.samples[labelled].notna().to_numpy()
            if not keep.any():
                logger.info("%s: no sample has a %s; left out.", name, labelled)
                continue
            atlas = atlas if keep.all() else atlas.subset(samples=keep)
        atlases[name] = atlas
    return atlases
