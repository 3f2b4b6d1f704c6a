"""Notebooks: stored clean with a parameters cell, and executed through the runner at quick size."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from srna_nb import cli
from srna_nb.errors import SrnaParameterError
from srna_nb.runner import load_profile, run_profile

from conftest import CHECKOUT, write_project

NOTEBOOKS = sorted((CHECKOUT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_clean_thin_and_with_parameters(path):
    """Notebooks are the source people edit: stored without outputs, parameterized, and only glue."""
    notebook = json.loads(path.read_text())
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert sum("parameters" in c.get("metadata", {}).get("tags", []) for c in code) == 1, "needs one cell tagged 'parameters'"
    assert not any(c.get("outputs") or c.get("execution_count") for c in code), "committed with outputs"
    assert "widgets" not in notebook["metadata"], "committed with widget state"
    for cell in code:
        tree = ast.parse("".join(cell["source"]))
        defined = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"cell defines {defined}: logic belongs in the library"


def test_every_profile_names_existing_notebooks_and_parameter_files():
    for profile in sorted((CHECKOUT / "parameters" / "profiles").glob("*.yaml")):
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
        assert "PosixPath(" not in page  # no stray return values of the saving calls
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
    assert {"age MAE, grouped", "age 90% interval coverage, grouped"} <= set(records["06_numeric_target_age"].key_figures)
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
    with pytest.raises(SrnaParameterError, match="no-such-profile.yaml: no such profile; profiles here: default, paper, quick, real"):
        load_profile("no-such-profile", root=CHECKOUT)
    assert cli.main(["run", "--profile", "no-such-profile", "--project", str(CHECKOUT)]) == 2
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


def test_expected_seconds_orders_first_runs_and_is_checked(tmp_path):
    """A profile's time estimate is read per run (it orders runs that have no record yet); a bad one is one line."""
    root = _project(tmp_path)
    (root / "parameters" / "profiles" / "e.yaml").write_text("runs:\n  - notebook: good\n    expected_seconds: 90\n")
    assert [run.expected_seconds for run in load_profile("e", root=root)[1]] == [90.0]
    (root / "parameters" / "profiles" / "e.yaml").write_text("runs:\n  - notebook: good\n    expected_seconds: soon\n")
    with pytest.raises(SrnaParameterError, match="expected_seconds must be a number of seconds, got 'soon'"):
        load_profile("e", root=root)
    assert max(load_profile("default", root=CHECKOUT)[1], key=lambda run: run.expected_seconds).name == "04_augment_tissue"


def test_init_writes_a_project_that_runs_from_its_own_folder(tmp_path, monkeypatch, capsys):
    target = tmp_path / "my study"
    assert cli.main(["init", str(target)]) == 0
    for folder in ("notebooks", "parameters"):
        shipped = sorted(p.relative_to(CHECKOUT / folder) for p in (CHECKOUT / folder).rglob("*") if p.is_file())
        copied = sorted(p.relative_to(target / folder) for p in (target / folder).rglob("*") if p.is_file())
        assert copied == shipped
        assert all((target / folder / p).read_bytes() == (CHECKOUT / folder / p).read_bytes() for p in shipped)
    assert (target / "reports").is_dir() and not list(target.glob(".*"))  # no staging folder left behind
    # The current directory is the project by default: runs resolve to its own notebooks.
    monkeypatch.chdir(target)
    name, runs = load_profile("quick")
    assert name == "quick" and all(r.notebook.parent.resolve() == (target / "notebooks").resolve() for r in runs)
    # Nothing a researcher wrote is overwritten.
    (target / "notebooks" / "00_explore.ipynb").write_text("edited")
    capsys.readouterr()
    assert cli.main(["init", str(target)]) == 2
    error = capsys.readouterr().err
    assert "already holds notebooks/" in error and error.count("\n") == 1
    assert (target / "notebooks" / "00_explore.ipynb").read_text() == "edited"


def test_run_outside_a_project_says_how_to_make_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["run", "--profile", "quick"]) == 2
    error = capsys.readouterr().err
    assert "is not an srna_nb project (no notebooks/ or parameters/)" in error and "srna-nb init" in error
    assert error.count("\n") == 1


def test_fingerprint_follows_declared_inputs_only(tmp_path):
    """Strings that merely name a folder (``..``) are not inputs; ``*path`` and ``*_dir`` parameters are."""
    from srna_nb.runner.reuse import _input_paths

    (tmp_path / "notebooks").mkdir()
    (tmp_path / "counts.csv").write_text("x")
    found = _input_paths({"label": "..", "where": {"study": [".."]}, "counts_path": "../counts.csv", "output_dir": "..",
                          "atlas_sources": {"a": {"source": "files", "path": "../counts.csv"}}, "bundle_dir": None},
                         tmp_path / "notebooks")
    assert [p.resolve() for p in found] == [(tmp_path / "counts.csv").resolve()] * 2
