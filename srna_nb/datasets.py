"""Data sources by name: the simulated SEA-like atlas (default) and known public atlases given a local path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaInputError, SrnaParameterError
from srna_nb.io import load_atlas
from srna_nb.logs import logger
from srna_nb.simulate import SimulationTruth, simulate_atlas

__all__ = [
    "DATA_SOURCES", "load_dataset", "load_lgrc_lung", "load_sample_type_atlases", "load_sources", "load_microrna_atlas", "load_serum_geo", "load_tissue_atlas2",
    "simulate_atlas", "SimulationTruth",
]

#: Names accepted by :func:`load_dataset`.
DATA_SOURCES = ("simulated", "microrna_atlas", "mirna_tissue_atlas2", "lgrc_lung", "serum_geo", "files")

#: Organ names of the miRNA Tissue Atlas 2 -> the microRNA atlas' names, for the organs both hold.
TISSUE_ATLAS2_ORGANS = {
    "brain": "BrainPrefrontalCortex", "lung": "Lung", "testis": "Testes", "liver": "Liver", "bladder": "Bladder",
    "pancreas": "Pancreas", "kidney": "Kidney", "colon": "Colon", "bowel": "Colon", "skin": "Skin", "thyroid": "Thyroid",
    "heart": "Heart",
}


def load_microrna_atlas(directory: str | Path) -> Atlas:
    """The microRNAome atlas (McCall et al. 2017): 528 samples x 2,131 miRNAs, 87 studies, raw counts.

    ``directory`` holds ``counts.csv.gz`` (features x samples) and ``samples.csv`` (keyed by
    ``SRA_number``; ``organ``, ``sample_category``, ``study_id``). Not shipped with the package.
    """
    directory = Path(directory)
    atlas = load_atlas(
        directory / "counts.csv.gz",
        directory / "samples.csv",
        id_column="SRA_number",
        study_column="study_id",
        value_kind="counts",
    )
    return atlas


def load_tissue_atlas2(directory: str | Path) -> Atlas:
    """The miRNA Tissue Atlas 2 (Keller et al. 2022): 185 tissue samples x 2,267 miRNAs, 6 donors, read counts.

    ``directory`` holds ``counts.csv.gz`` (features x samples) and ``samples.csv`` (``sample``,
    ``organ``, ``subtissue``, ``donor``). The donor is the study column (one study; the donor is
    the only grouping). ``organ`` is reconciled with the microRNA atlas: its organ name where
    both atlases hold the organ (:data:`TISSUE_ATLAS2_ORGANS`), else the atlas' own name
    capitalized; ``ta2_organ`` keeps the published name.
    """
    directory = Path(directory)
    atlas = load_atlas(directory / "counts.csv.gz", directory / "samples.csv", id_column="sample", study_column="donor",
                       value_kind="counts")
    published = atlas.samples["organ"].astype(object)
    atlas.samples["ta2_organ"] = published
    atlas.samples["organ"] = published.map(TISSUE_ATLAS2_ORGANS).where(published.isin(list(TISSUE_ATLAS2_ORGANS)),
                                                                       published.str.capitalize()).astype(object)
    return atlas


def load_lgrc_lung(directory: str | Path) -> Atlas:
    """LGRC lung small RNA-seq: 351 lung samples with sex, age, disease and flow cell; miRBase 18 names.

    ``counts.tsv.gz`` has seven annotation columns (V1-V7: coordinates, name, accessions, strand,
    source) and one row per genomic locus; the accessions in V5 are ignored here so that names go
    through the same harmonization as every other file (``tests`` compare the two). Libraries
    without a metadata row (failed QC) are left out (``join="inner"``). Adds ``sex``
    (male/female from ``gender``).
    """
    directory = Path(directory)
    # The GEO table names two columns "processed data file"; neither is needed.
    sheet = pd.read_csv(directory / "samples.tsv.gz", sep="\t", dtype={"library name": str, "flow_cell": str})
    sheet = sheet.loc[:, ~sheet.columns.str.startswith("processed data file")].set_index("library name")
    sheet.index.name = "sample_id"
    atlas = load_atlas(directory / "counts.tsv.gz", sheet,
                       study_column="flow_cell", feature_column="V4", annotation_columns=["V1", "V2", "V3", "V5", "V6", "V7"],
                       join="inner", value_kind="counts")
    atlas.samples["sex"] = atlas.samples["gender"].map({"1-Male": "male", "2-Female": "female"}).astype(object)
    return atlas


#: The serum studies of ``serum_geo/``.
SERUM_STUDIES = ("GSE131695", "GSE69579")


def load_serum_geo(directory: str | Path, study: str) -> Atlas:
    """One of two GEO serum studies (counts, each its submitters' pipeline) with ``sex``, ``age`` and ``biofluid``.

    ``GSE131695``: serum and CSF (``Biofluid``), 61 samples. ``GSE69579``: serum after liver
    transplantation, pre-2014 miRBase names, a transposed GEO series matrix as metadata
    (``characteristics`` cells such as ``age: 52``); the 5 count columns without metadata are
    left out. The study column is ``study`` (the GEO series).
    """
    directory = Path(directory)
    if study not in SERUM_STUDIES:
        raise SrnaParameterError(f"unknown serum study {study!r}; choose one of {', '.join(SERUM_STUDIES)}")
    meta_path = directory / f"{study}_meta.csv.gz"
    try:
        meta = pd.read_csv(meta_path, dtype=str)
    except (OSError, ValueError) as error:
        raise SrnaInputError(f"{meta_path}: cannot read ({error})") from None
    meta = meta.set_index("Col_names")
    if study == "GSE131695":
        # Six rows are shifted by one column in the published table (a number under Sex): their
        # sex and age are unknown; "ND" is not determined.
        sex = meta["Sex"].str.strip().str.lower()
        shifted = pd.to_numeric(sex, errors="coerce").notna()
        sheet = pd.DataFrame({"sex": sex.where(sex.isin(["male", "female"])),
                              "age": pd.to_numeric(meta["Age"], errors="coerce").where(~shifted),
                              "biofluid": meta["Biofluid"].str.strip().str.lower()}, index=meta.index)
    else:
        characteristics = meta.filter(like="!Sample_characteristics_ch1")
        fields: dict[str, dict] = {}
        for sample, row in characteristics.iterrows():
            for cell in row.dropna():
                key, _, value = str(cell).partition(":")
                fields.setdefault(key.strip(), {})[sample] = value.strip()
        sheet = pd.DataFrame({"sex": pd.Series(fields.get("gender", {})).str.lower(),
                              "age": pd.to_numeric(pd.Series(fields.get("age", {})), errors="coerce"),
                              "biofluid": pd.Series(fields.get("tissue", {})).str.lower()}).reindex(meta.index)
    sheet = sheet.astype({"sex": object, "biofluid": object})
    sheet.insert(0, "study", study)
    sheet.index.name = "sample_id"
    return load_atlas(directory / f"{study}.csv.gz", sheet, study_column="study", join="inner", value_kind="counts")


def load_sample_type_atlases(data_dir: str | Path, table=None) -> dict[str, Atlas]:
    """Every public atlas under ``data_dir`` that has tissue or biofluid labels, with a ``sample_type`` column.

    ``data_dir`` is a folder such as ``../shared/data`` holding any of ``microrna_atlas/``
    (its tissue samples), ``mirna_tissue_atlas2/``, ``lgrc_lung/`` and ``serum_geo/`` (each of
    its two studies is an atlas: its own pipeline). ``sample_type`` comes from the mapping table
    (:func:`srna_nb.vocabulary.sample_types`; default the shipped table); samples it does not
    name (cell lines, sorted cells) are left out. Atlases whose folder is absent are skipped.
    """
    from srna_nb.vocabulary import sample_types

    data_dir = Path(data_dir)
    loaders = {
        "microrna_atlas": lambda d: _tissue_only(load_microrna_atlas(d)),
        "mirna_tissue_atlas2": load_tissue_atlas2,
        "lgrc_lung": load_lgrc_lung,
    }
    atlases: dict[str, Atlas] = {}
    for name, load in loaders.items():
        if (data_dir / name).is_dir():
            atlases[name] = load(data_dir / name)
    if (data_dir / "serum_geo").is_dir():
        for study in SERUM_STUDIES:
            atlases[study] = load_serum_geo(data_dir / "serum_geo", study)
    labelled = {}
    for name, atlas in atlases.items():
        atlas.samples["sample_type"] = sample_types(atlas.samples, "serum_geo" if name in SERUM_STUDIES else name, table)
        kept = atlas.samples["sample_type"].notna().to_numpy()
        labelled[name] = atlas if kept.all() else atlas.subset(samples=kept)
    if not labelled:
        raise SrnaInputError(f"{data_dir}: none of microrna_atlas, mirna_tissue_atlas2, lgrc_lung, serum_geo is here")
    return labelled


def _tissue_only(atlas: Atlas) -> Atlas:
    return atlas.subset(samples=(atlas.samples["sample_category"] == "tissue").to_numpy())


def load_sources(specs: dict[str, dict]) -> dict[str, Atlas]:
    """Several atlases by name, each from a :func:`load_dataset` specification.

    ``specs`` maps a name to the keyword arguments of :func:`load_dataset` (``source``, ``path``,
    ``seed`` ...) plus an optional ``where`` (column -> allowed values) that keeps only matching
    samples, e.g. ``{"microrna_atlas": {"source": "microrna_atlas", "path": "...", "where":
    {"sample_category": ["tissue"]}}}``.
    """
    atlases = {}
    for name, spec in specs.items():
        spec = dict(spec)
        where = spec.pop("where", None) or {}
        atlas, _ = load_dataset(**spec)
        keep = np.ones(atlas.n_samples, dtype=bool)
        for column, allowed in where.items():
            keep &= atlas.labels(column).isin([allowed] if isinstance(allowed, str) else list(allowed)).to_numpy()
        atlases[name] = atlas.subset(samples=keep) if not keep.all() else atlas
    return atlases


def load_dataset(
    source: str = "simulated",
    *,
    n_samples: int = 4243,
    seed: int = 0,
    path: str | Path | None = None,
    counts_path: str | Path | None = None,
    samples_path: str | Path | None = None,
    **options,
) -> tuple[Atlas, SimulationTruth | None]:
    """Load the data a notebook's parameters name.

    Parameters
    ----------
    source
        ``simulated``: :func:`simulate_atlas` with ``n_samples`` and ``seed`` (``options`` go to
        the simulator). ``microrna_atlas``: :func:`load_microrna_atlas` from ``path``.
        ``files``: :func:`srna_nb.io.load_atlas` on ``counts_path`` and ``samples_path``
        (``options`` go to the loader: ``study_column``, ``orientation``, ``value_kind`` ...).

    Returns
    -------
    atlas, truth
        ``truth`` is the simulator's ground truth, or None for real data.
    """
    if source == "simulated":
        atlas, truth = simulate_atlas(n_samples=n_samples, seed=seed, **options)
        logger.info("Simulated atlas (not real samples): %d samples x %d features, %d studies, seed %s.",
                    atlas.n_samples, atlas.n_features, atlas.studies.nunique(), seed)
        return atlas, truth
    if source == "microrna_atlas":
        if path is None:
            raise SrnaParameterError("source 'microrna_atlas' needs path (the folder with counts.csv.gz and samples.csv)")
        return load_microrna_atlas(path), None
    if source in ("mirna_tissue_atlas2", "lgrc_lung", "serum_geo"):
        if path is None:
            raise SrnaParameterError(f"source {source!r} needs path (its folder under shared/data)")
        if source == "serum_geo":
            return load_serum_geo(path, options.get("study", "GSE131695")), None
        loader = load_tissue_atlas2 if source == "mirna_tissue_atlas2" else load_lgrc_lung
        return loader(path), None
    if source == "files":
        if counts_path is None:
            raise SrnaParameterError("source 'files' needs counts_path (and usually samples_path)")
        return load_atlas(counts_path, samples_path, **options), None
    raise SrnaParameterError(f"unknown data source {source!r}; choose one of {', '.join(DATA_SOURCES)}")
