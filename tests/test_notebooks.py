"""Notebooks: stored clean with a parameters cell, and executed through the runner at quick size."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from srna_nb import cli
from srna_nb.errors import SrnaParameterError
from srna_nb.runner import PROJECT_ROOT, load_profile, run_profile

from conftest import write_project

NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs_and_with_parameters(path):
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in code), "no cell tagged 'parameters'"
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "committed with outputs"


def test_every_profile_names_existing_notebooks_and_parameter_files():
    for profile in sorted((PROJECT_ROOT / "parameters" / "profiles").glob("*.yaml")):
        name, runs = load_profile(profile)
        assert runs and all(r.notebook.exists() for r in runs), profile


@pytest.mark.slow
def test_quick_profile_executes_every_notebook(quick_reports):
    reports_dir, results = quick_reports
    assert {r.run.notebook for r in results} == set(NOTEBOOKS)
    failures = {r.run.name: r.error for r in results if r.status != "ok"}
    assert not failures
    for result in results:
        page = result.html.read_text()
        assert "Simulated data" in page and "Traceback" not in page
        assert "<img" in page  # figures embedded as static images
        assert not re.search(r"<script[^>]+src=", page)  # readable offline: nothing fetched from a CDN
    index = (reports_dir / "index.html").read_text()
    assert all(f'href="quick/{r.run.name}.html"' in index for r in results)
    assert 'id="paper-summary"' in index
    # Key figures computed by the notebooks reach the index.
    records = {r.run.name: r.record for r in results}
    assert records["01_atlas_overview"].key_figures["samples"] == 700
    assert "accuracy, grouped" in records["02_train_evaluate_tissue"].key_figures
    assert any(k.startswith("planted-marker precision") for k in records["03_feature_importance_tissue"].key_figures)
    assert "planted mislabels: precision / recall" in records["04_augment_tissue"].key_figures
    assert "planted mislabels: precision / recall" in index
    # Each kernel's peak memory is measured and shown (the quick study is small: far under 3 GB).
    assert all(100 < r.record.peak_memory_mb < 3072 for r in results), {r.run.name: r.record.peak_memory_mb for r in results}
    assert index.count("<br>peak ") >= len(results)


@pytest.mark.slow
def test_explore_report_shows_static_snapshots(quick_reports):
    reports_dir, _ = quick_reports
    page = (reports_dir / "quick" / "00_explore.html").read_text()
    assert "widget-view+json" not in page  # live widgets replaced by their snapshots
    assert page.count("data:image/png;base64") >= 3  # confusion matrix, importance panels, contributions
    assert "calibrated probability" in page and "planted marker" in page


def _project(tmp_path: Path) -> Path:
    """A throw-away project with one good and one failing notebook."""
    return write_project(tmp_path, {"good": "print(value * 2)", "bad": "raise RuntimeError('planted failure')"},
                         "name: t\nruns:\n  - notebook: bad\n  - notebook: good\n    overrides: {value: 21}\n")


@pytest.mark.slow
def test_failed_notebook_does_not_stop_the_others(tmp_path):
    root = _project(tmp_path)
    results = run_profile("t", reports_dir=root / "reports", echo=lambda *a, **k: None, root=root)
    bad, good = results
    assert bad.status == "failed" and "RuntimeError: planted failure" in bad.error
    # Which cell failed (papermill's injected parameters cell counts), and its code.
    assert "cell 3 (`raise RuntimeError('planted failure')`)" in bad.error
    assert bad.executed.exists()  # kept, showing the error
    assert good.status == "ok" and "42" in good.executed.read_text()
    index = (root / "reports" / "index.html").read_text()
    assert "FAILED: cell 3" in index and "planted failure" in index and 'href="t/bad.ipynb"' in index
    assert (root / "reports" / "t" / "index.html").exists()
    assert not list((root / "reports").rglob("*.tmp.*")) and not list((root / "reports").rglob(".*staging*"))  # nothing left behind
    assert cli.main(["run", "--profile", str(root / "parameters" / "profiles" / "t.yaml"),
                     "--reports", str(root / "reports")]) == 1  # the exit code says not everything succeeded


@pytest.mark.slow
def test_unchanged_reports_are_reused_until_something_changes(tmp_path):
    root = _project(tmp_path)
    reports_dir = root / "reports"
    messages = []
    first = run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: messages.append(a[0]), root=root)
    html = first[0].html.stat().st_mtime_ns
    second = run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: messages.append(a[0]), root=root)
    assert second[0].record.reused and second[0].html.stat().st_mtime_ns == html
    assert any("unchanged, reused" in m for m in messages)
    forced = run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: None, root=root, force=True)
    assert not forced[0].record.reused
    # A changed input file named by a parameter invalidates the report.
    data = root / "notebooks" / "input.txt"
    data.write_text("1")
    profile = (root / "parameters" / "profiles" / "t.yaml").read_text().replace("{value: 21}", "{value: 21, path: input.txt}")
    write_project(root, {"good": "print(value * 2)"}, profile, parameters="value = 1\noutput_dir = None\npath = None")
    run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: None, root=root)
    assert run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: None, root=root)[0].record.reused
    data.write_text("2")
    assert not run_profile("t", reports_dir=reports_dir, only=["good"], echo=lambda *a, **k: None, root=root)[0].record.reused
    # A failed report is never reused.
    assert not run_profile("t", reports_dir=reports_dir, only=["bad"], echo=lambda *a, **k: None, root=root)[0].record.reused
    assert not run_profile("t", reports_dir=reports_dir, only=["bad"], echo=lambda *a, **k: None, root=root)[0].record.reused


def test_kernel_start_is_quiet(tmp_path, capfd):
    """The kernel's stderr reaches the user's terminal: ipykernel's unencrypted-TCP warning must not."""
    root = _project(tmp_path)
    result, = run_profile("t", reports_dir=root / "reports", only=["good"], echo=lambda *a, **k: None, root=root)
    assert result.status == "ok" and result.record.peak_memory_mb > 0
    assert "without encryption" not in capfd.readouterr().err


def test_run_names_keep_runs_apart(tmp_path):
    root = _project(tmp_path)
    with pytest.raises(SrnaParameterError, match="plain folder name"):
        run_profile("t", reports_dir=tmp_path / "r", run_name="../elsewhere", root=root)


def test_unknown_profile_and_run_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(SrnaParameterError, match="parameter file not found"):
        load_profile("no-such-profile")
    assert cli.main(["run", "--profile", "no-such-profile"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("srna-nb: error:") and error.count("\n") == 1
    root = _project(tmp_path)
    with pytest.raises(SrnaParameterError, match="'nothing' is not a run of profile t"):
        run_profile("t", reports_dir=tmp_path / "r", only=["nothing"], root=root)


def test_misspelt_parameter_is_refused(tmp_path):
    root = _project(tmp_path)
    (root / "parameters" / "profiles" / "typo.yaml").write_text("runs:\n  - notebook: good\n    overrides: {valeu: 3}\n")
    with pytest.raises(SrnaParameterError, match="parameter 'valeu' is declared by no notebook"):
        load_profile("typo", root=root)
