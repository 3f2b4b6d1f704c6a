"""Shared fixtures: small simulated atlases (session-scoped: simulation is deterministic) and real-data paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from srna_nb.simulate import simulate_atlas

REAL_ATLAS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "microrna_atlas"


@pytest.fixture(scope="session")
def small_simulation():
    """A 600-sample simulated atlas and its ground truth."""
    return simulate_atlas(n_samples=600, seed=3)


@pytest.fixture(scope="session")
def real_atlas_dir() -> Path:
    if not (REAL_ATLAS / "counts.csv.gz").exists():
        pytest.skip(f"real microRNA atlas not present at {REAL_ATLAS}")
    return REAL_ATLAS


@pytest.fixture(scope="session")
def quick_reports(tmp_path_factory):
    """Every notebook executed once with the quick profile (shared by the notebook and browser tests)."""
    from srna_nb.runner import run_profile

    reports_dir = tmp_path_factory.mktemp("reports")
    results = run_profile("quick", reports_dir=reports_dir, echo=lambda *a, **k: None)
    return reports_dir, results
