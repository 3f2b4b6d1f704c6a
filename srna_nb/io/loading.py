"""One :class:`~srna_nb.atlas.Atlas` from a matrix and its sample sheet: joined, names harmonized."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaInputError
from srna_nb.io.h5ad import read_h5ad
from srna_nb.io.tables import Orientation, check_value_kind, known_share, read_matrix, read_sample_sheet
from srna_nb.logs import logger
from srna_nb.hairpins import FEATURE_LEVELS, name_levels
from srna_nb.names import describe_mapping, harmonize_names, rna_class
from srna_nb.preprocessing import from_linear, to_linear


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
    feature_level: str = "auto",
    empty_cells: str = "refuse",
    drop_features: str | None = None,
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
        ``counts``, ``rpm`` or ``log2_rpm`` (sequencing), ``intensity`` or ``log2_intensity`` (array
        and assay signals: NanoString, Affymetrix, HTG): what the numbers are. Stated, never guessed;
        values that contradict it are refused in one line.
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
    feature_level
        What a row counts: ``mature`` miRNAs, ``hairpin`` (precursor) counts such as TCGA's
        ``hsa-mir-21``, or ``auto``: decided from the names for the whole table (lower-case
        ``mir`` without an arm is a hairpin) and reported. Hairpin rows become hairpin families
        (:mod:`srna_nb.hairpins`); a hairpin name is never read as a mature one. A table mixing
        both kinds of names is refused unless the level is stated.
    empty_cells
        ``refuse`` (default) or ``unmeasured``: empty cells are sRNAs a sample was not measured on
        (NaN, never zero).
    drop_features
        A regular expression: rows whose name matches it from the start are left out (controls,
        housekeeping genes, spike-ins), and the loader says how many.
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
        value_kind=value_kind, empty_cells=empty_cells,
    )
    provenance = {"counts_file": str(counts), "orientation": note}
    if drop_features:
        dropped = matrix.columns.str.match(drop_features)
        matrix = matrix.loc[:, ~dropped]
        annotations = None if annotations is None else annotations.loc[~dropped]
        provenance["dropped"] = f"Left out {int(dropped.sum())} rows matching {drop_features!r} (not small RNAs)."
        if matrix.shape[1] == 0:
            raise SrnaInputError(f"{counts}: every row matches drop_features {drop_features!r}")
    if check_feature_names and known_share(matrix.columns) == 0:
        raise SrnaInputError(
            f"{counts}: none of the {matrix.shape[1]} feature names reads like a small-RNA name "
            f"(e.g. {str(matrix.columns[0])!r}); wrong file or orientation? (check_feature_names=False accepts custom ids)"
        )
    check_value_kind(matrix.to_numpy(), value_kind, counts)
    level = _feature_level(matrix.columns, feature_level, counts) if harmonize else "as given"
    provenance["feature_level"] = level
    if sheet is None:
        sheet = pd.DataFrame(index=matrix.index.copy())
    else:
        if not isinstance(samples, pd.DataFrame):
            provenance["sample_sheet"] = str(samples)
        matrix, sheet = _join(matrix, sheet, counts, sheet_name, join, provenance)
    values, features = matrix.to_numpy(dtype=np.float64), pd.DataFrame(index=pd.Index(matrix.columns, name="feature"))
    if harmonize:
        accessions = None if accession_column is None else annotations[accession_column].to_numpy()
        values, features, mapping = _harmonize(values, matrix.columns, accessions, value_kind, counts, level)
        provenance["name_mapping"] = mapping
        provenance["names"] = describe_mapping(mapping)
        if level == "hairpin":
            provenance["level"] = (f"Rows are hairpin (precursor) counts: each hairpin is summed into its family of mature "
                                   f"products ({mapping['members'].nunique()} features from {len(mapping)} rows), "
                                   "never read as one mature arm.")
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
    for key in ("dropped", "join", "level", "names"):
        if key in provenance:
            logger.info(provenance[key])
    return atlas


def _feature_level(names: pd.Index, stated: str, path: Path) -> str:
    """The level a table's rows count, stated or read from its names; a contradiction is refused."""
    hairpin, mature = name_levels(names)
    if stated not in ("auto", *FEATURE_LEVELS):
        raise SrnaInputError(f"feature_level must be auto, {' or '.join(FEATURE_LEVELS)}, got {stated!r}")
    if stated == "auto":
        if hairpin and mature:
            raise SrnaInputError(f"{path}: rows name both hairpins (e.g. {hairpin[0]!r}, {len(hairpin)} rows) and mature miRNAs "
                                 f"(e.g. {mature[0]!r}, {len(mature)} rows); state which the counts are with feature_level='mature' or 'hairpin'")
        return "hairpin" if hairpin else "mature"
    # Stated, the level holds for the whole table (miRDeep2 names a single-product hairpin's mature
    # miRNA after the hairpin, hsa-mir-2110, beside armed names); only a table with no name of the
    # stated level at all, and some of the other, contradicts it.
    own, other = (hairpin, mature) if stated == "hairpin" else (mature, hairpin)
    if other and not own:
        raise SrnaInputError(f"{path}: feature_level is {stated!r} but the rows have {'mature' if stated == 'hairpin' else 'hairpin'} "
                             f"names only (e.g. {other[0]!r}, {len(other)} rows)")
    return stated


def _harmonize(values: np.ndarray, names: pd.Index, accessions, value_kind: str, path: Path, level: str = "mature"):
    """Harmonized names; rows that count the same miRNA summed (on the linear scale for log2 values)."""
    mapping = harmonize_names(list(names), accessions, level=level)
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
