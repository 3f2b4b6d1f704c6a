"""Data sources by name: the simulated SEA-like atlas (default), the catalogue's public atlases given a local path, or files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaParameterError
from srna_nb.io import load_atlas
from srna_nb.io.catalogue import catalogue, load_atlases, load_catalogue_atlas
from srna_nb.logs import logger
from srna_nb.simulate import SimulationTruth, simulate_atlas

__all__ = ["DATA_SOURCES", "load_dataset", "load_sample_type_atlases", "load_sources", "simulate_atlas", "SimulationTruth"]

#: Names accepted by :func:`load_dataset` besides the catalogue's atlases (:func:`srna_nb.io.catalogue`).
DATA_SOURCES = ("simulated", "files")


def load_sample_type_atlases(data_dir: str | Path, names=None) -> dict[str, Atlas]:
    """Every catalogue atlas under ``data_dir`` with tissue or biofluid labels, only its samples with a ``sample_type``.

    ``data_dir`` is a folder such as ``../shared/data``; each atlas of the catalogue
    (``srna_nb/data/atlases.yaml``) whose files are there is read (``names``: only these), each
    its own pipeline or platform. ``sample_type`` comes from the sample-type table
    (:mod:`srna_nb.vocabulary`); samples it does not name (cell lines, metastases, control RNA)
    are left out.
    """
    return load_atlases(data_dir, names=names, labelled="sample_type")


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
        keep = atlas.matching(where)
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
        the simulator). A catalogue atlas (``microrna_atlas``, ``tcga`` ...: :func:`srna_nb.io.catalogue`)
        from ``path``, its folder.
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
    known = catalogue()
    if source in known:
        if path is None:
            raise SrnaParameterError(f"source {source!r} needs path (its folder, e.g. ../shared/data/{known[source].folder})")
        path = Path(path)
        # The folder of the atlas' files, or the data folder above it.
        root = path.parent if path.name == known[source].folder else path
        return load_catalogue_atlas(known[source], root), None
    if source == "files":
        if counts_path is None:
            raise SrnaParameterError("source 'files' needs counts_path (and usually samples_path)")
        return load_atlas(counts_path, samples_path, **options), None
    raise SrnaParameterError(f"unknown data source {source!r}; choose one of {', '.join(DATA_SOURCES + tuple(known))}")
