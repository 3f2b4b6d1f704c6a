"""Data sources by name: the simulated SEA-like atlas (default) and known public atlases given a local path."""

from __future__ import annotations

from pathlib import Path

from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaParameterError
from srna_nb.io import load_atlas
from srna_nb.simulate import SimulationTruth, simulate_atlas

__all__ = ["DATA_SOURCES", "load_dataset", "load_microrna_atlas", "simulate_atlas", "SimulationTruth"]

#: Names accepted by :func:`load_dataset`.
DATA_SOURCES = ("simulated", "microrna_atlas", "files")


def load_microrna_atlas(directory: str | Path, verbose: bool = True) -> Atlas:
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
        verbose=verbose,
    )
    return atlas


def load_dataset(
    source: str = "simulated",
    *,
    n_samples: int = 4243,
    seed: int = 0,
    path: str | Path | None = None,
    counts_path: str | Path | None = None,
    samples_path: str | Path | None = None,
    verbose: bool = True,
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
        if verbose:
            print(
                f"Simulated atlas (not real samples): {atlas.n_samples} samples x {atlas.n_features} features, "
                f"{atlas.studies.nunique()} studies, seed {seed}."
            )
        return atlas, truth
    if source == "microrna_atlas":
        if path is None:
            raise SrnaParameterError("source 'microrna_atlas' needs path (the folder with counts.csv.gz and samples.csv)")
        return load_microrna_atlas(path, verbose=verbose), None
    if source == "files":
        if counts_path is None:
            raise SrnaParameterError("source 'files' needs counts_path (and usually samples_path)")
        return load_atlas(counts_path, samples_path, verbose=verbose, **options), None
    raise SrnaParameterError(f"unknown data source {source!r}; choose one of {', '.join(DATA_SOURCES)}")
