"""Shared fixtures: small simulated atlases (session-scoped: simulation is deterministic) and real-data paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from srna_nb.simulate import simulate_atlas

#: The checkout: a project folder (notebooks/, parameters/) like any made by `srna-nb init`.
CHECKOUT = Path(__file__).resolve().parent.parent
SHARED_DATA = CHECKOUT.parent / "shared" / "data"
REAL_ATLAS = SHARED_DATA / "microrna_atlas"


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
def shared_data() -> Path:
    """../shared/data with every real set; tests that need it skip when it is absent."""
    needed = ("microrna_atlas", "mirna_tissue_atlas2", "lgrc_lung", "serum_geo")
    missing = [name for name in needed if not (SHARED_DATA / name).is_dir()]
    if missing:
        pytest.skip(f"real data not present at {SHARED_DATA} ({', '.join(missing)})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def real_atlases(shared_data) -> dict:
    """Every catalogue atlas of ../shared/data, loaded once (28 s, TCGA most of it)."""
    from srna_nb.io import load_atlases

    return load_atlases(shared_data)


@pytest.fixture(scope="session")
def quick_reports(tmp_path_factory):
    """Every notebook executed once with the quick profile (shared by the notebook and browser tests)."""
    from srna_nb.runner import run_profile

    reports_dir = tmp_path_factory.mktemp("reports")
    results = run_profile("quick", reports_dir=reports_dir, echo=lambda *a, **k: None, root=CHECKOUT)
    return reports_dir, results


def write_project(root: Path, notebooks: dict[str, str], profile: str, parameters: str = "value = 1\noutput_dir = None") -> Path:
    """A throw-away project: notebooks (name -> code after a ``parameters`` cell) and one profile ``t``."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    (root / "parameters" / "profiles").mkdir(parents=True, exist_ok=True)
    for name, body in notebooks.items():
        cell = new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        notebook = new_notebook(cells=[cell, new_code_cell(body)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(notebook, root / "notebooks" / f"{name}.ipynb")
    (root / "parameters" / "profiles" / "t.yaml").write_text(profile)
    return root


@pytest.fixture()
def project_factory(tmp_path):
    return lambda notebooks, profile: write_project(tmp_path, notebooks, profile)
