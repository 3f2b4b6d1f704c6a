"""Batch execution: profiles of notebook x parameter-file runs, executed with papermill, rendered to HTML.

A profile (``parameters/profiles/NAME.yaml``) lists runs::

    name: default
    defaults: default.yaml          # parameter file every run starts from (optional)
    runs:
      - name: 01_atlas_overview      # report name (unique within the profile)
        notebook: 01_atlas_overview  # notebooks/<notebook>.ipynb
        parameters: [overview.yaml]  # more parameter files, applied in order (optional)
        overrides: {n_samples: 600}  # last word (optional)

Each run writes ``reports/<profile>/<name>.ipynb`` (executed) and ``<name>.html`` through a
temporary file and a rename, so that an interrupted run never leaves a half-written report.
A failed notebook does not stop the others; ``reports/index.html`` lists every run and its status.
"""

from __future__ import annotations

import html
import os
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from srna_nb.errors import SrnaParameterError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    """One notebook execution with its merged parameters."""

    name: str
    notebook: Path
    parameters: dict[str, Any]


@dataclass
class RunResult:
    run: Run
    status: str  # "ok" or "failed"
    seconds: float
    html: Path | None = None
    executed: Path | None = None
    error: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML mapping from ``path`` with a one-line error for missing or malformed files."""
    if not path.exists():
        raise SrnaParameterError(f"{path}: parameter file not found")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise SrnaParameterError(f"{path}: invalid YAML ({str(error).splitlines()[0]})") from None
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise SrnaParameterError(f"{path}: expected a mapping of parameter names to values")
    return content


def load_profile(profile: str | Path, root: Path = PROJECT_ROOT, extra_parameters: Iterable[str | Path] = ()) -> tuple[str, list[Run]]:
    """Read a profile by name (``parameters/profiles/<name>.yaml``) or path into runs."""
    path = Path(profile)
    if not path.suffix:
        path = root / "parameters" / "profiles" / f"{profile}.yaml"
    spec = read_yaml(path)
    if not isinstance(spec.get("runs"), list) or not spec["runs"]:
        raise SrnaParameterError(f"{path}: a profile needs a non-empty 'runs' list")
    base: dict[str, Any] = {}
    if spec.get("defaults"):
        base.update(read_yaml(root / "parameters" / spec["defaults"]))
    runs, names = [], set()
    for position, entry in enumerate(spec["runs"], start=1):
        if not isinstance(entry, dict) or "notebook" not in entry:
            raise SrnaParameterError(f"{path}: run {position} needs a 'notebook'")
        notebook = root / "notebooks" / f"{entry['notebook']}.ipynb"
        if not notebook.exists():
            raise SrnaParameterError(f"{path}: run {position}: notebook {notebook.name} not found in notebooks/")
        name = str(entry.get("name", entry["notebook"]))
        if name in names:
            raise SrnaParameterError(f"{path}: run name {name!r} is used twice")
        names.add(name)
        parameters = dict(base)
        files = entry.get("parameters", [])
        for file in [files] if isinstance(files, str) else files:
            parameters.update(read_yaml(root / "parameters" / file))
        for file in extra_parameters:
            parameters.update(read_yaml(Path(file)))
        parameters.update(entry.get("overrides") or {})
        runs.append(Run(name=name, notebook=notebook, parameters=_known_parameters(notebook, parameters, path)))
    return str(spec.get("name", path.stem)), runs


def _temporary_beside(path: Path) -> Path:
    """An empty temporary file next to ``path`` (same filesystem, so a rename is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary, 0o666 & ~umask)  # mkstemp makes 0600; reports are for sharing
    return Path(temporary)


@lru_cache(maxsize=64)
def notebook_parameters(notebook: Path) -> set[str]:
    """Names assigned in a notebook's ``parameters`` cell."""
    import ast

    import nbformat


    for cell in nbformat.read(notebook, as_version=4).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            tree = ast.parse(cell.source)
            return {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    return set()


def _known_parameters(notebook: Path, parameters: dict[str, Any], profile: Path) -> dict[str, Any]:
    """Keep the parameters this notebook declares.

    Parameter files are shared between notebooks, so a name another notebook declares is
    passed over quietly; a name no notebook declares is a typo and stops the run.
    """
    declared = notebook_parameters(notebook)
    anywhere = set().union(*(notebook_parameters(n) for n in notebook.parent.glob("*.ipynb")))
    unknown = sorted(set(parameters) - anywhere)
    if unknown:
        raise SrnaParameterError(
            f"{profile}: parameter {unknown[0]!r} is declared by no notebook ({notebook.name} declares: {', '.join(sorted(declared))})"
        )
    return {k: v for k, v in parameters.items() if k in declared}


def _atomic_write(path: Path, text: str) -> None:
    temporary = _temporary_beside(path)
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def render_html(executed: Path, destination: Path, keep_code: bool = False) -> None:
    """Render an executed notebook to static HTML (figures embedded, code hidden by default)."""
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(exclude_input=not keep_code, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    _atomic_write(destination, body)


def execute(run: Run, output_dir: Path, keep_code: bool = False, log_output: bool = False) -> RunResult:
    """Execute one run with papermill and render its HTML; failures are captured, not raised."""
    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    executed = output_dir / f"{run.name}.ipynb"
    parameters = dict(run.parameters)
    if "output_dir" in notebook_parameters(run.notebook):
        parameters["output_dir"] = str((output_dir / f"{run.name}_files").resolve())
    started = time.perf_counter()
    temporary = _temporary_beside(executed)
    error = ""
    try:
        papermill.execute_notebook(
            str(run.notebook), str(temporary), parameters=parameters, kernel_name="python3",
            cwd=str(run.notebook.parent), progress_bar=False, log_output=log_output,
        )
    except papermill.PapermillExecutionError as failure:
        error = f"cell {failure.exec_count}: {failure.ename}: {failure.evalue}"
    except Exception as failure:  # noqa: BLE001 - a broken kernel must not stop the other runs
        error = f"{type(failure).__name__}: {failure}"
    # Keep the executed notebook in both cases: with an error it shows the failing cell.
    if temporary.exists() and temporary.stat().st_size:
        os.replace(temporary, executed)
    else:
        temporary.unlink(missing_ok=True)
        executed = None
    html_path = None
    if executed is not None:
        html_path = output_dir / f"{run.name}.html"
        render_html(executed, html_path, keep_code=keep_code)
    return RunResult(run=run, status="failed" if error else "ok", seconds=time.perf_counter() - started,
                     html=html_path, executed=executed, error=error)


def run_profile(
    profile: str | Path,
    reports_dir: Path = PROJECT_ROOT / "reports",
    only: Iterable[str] = (),
    keep_code: bool = False,
    extra_parameters: Iterable[str | Path] = (),
    echo=print,
    root: Path = PROJECT_ROOT,
) -> list[RunResult]:
    """Execute every run of a profile (or those named in ``only``), then write the index."""
    profile_name, runs = load_profile(profile, root=root, extra_parameters=extra_parameters)
    only = set(only)
    if only:
        unknown = only - {r.name for r in runs}
        if unknown:
            raise SrnaParameterError(f"--only {sorted(unknown)[0]!r} is not a run of profile {profile_name}; runs: {', '.join(r.name for r in runs)}")
        runs = [r for r in runs if r.name in only]
    results = []
    started = time.perf_counter()
    for position, run in enumerate(runs, start=1):
        echo(f"[{position}/{len(runs)}] {run.name} ({run.notebook.name}) ... ", end="")
        result = execute(run, reports_dir / profile_name, keep_code=keep_code)
        results.append(result)
        echo(f"{result.status} in {result.seconds:.0f} s" + (f": {result.error}" if result.error else "")
             + f"; {len(runs) - position} left, {time.perf_counter() - started:.0f} s elapsed")
    write_index(reports_dir, profile_name, results)
    return results


def collect_paper_summary(profile_dir: Path):
    """Stack the ``paper_summary.csv`` tables that evaluation runs wrote (None when there are none)."""
    import pandas as pd

    tables = [pd.read_csv(p, index_col=[0, 1]) for p in sorted(profile_dir.glob("*_files/paper_summary.csv"))]
    return pd.concat(tables) if tables else None


def write_index(reports_dir: Path, profile_name: str, results: list[RunResult]) -> Path:
    """``reports/index.html``: every report of the run with its status and time."""
    rows = []
    for result in results:
        link = (f'<a href="{html.escape(str(result.html.relative_to(reports_dir)))}">{html.escape(result.run.name)}</a>'
                if result.html else html.escape(result.run.name))
        status = "ok" if result.status == "ok" else f"FAILED: {html.escape(result.error)}"
        rows.append(f"<tr><td>{link}</td><td>{html.escape(result.run.notebook.name)}</td><td>{status}</td><td>{result.seconds:.0f} s</td></tr>")
    summary = collect_paper_summary(reports_dir / profile_name)
    summary_html = ""
    if summary is not None:
        summary.to_csv(reports_dir / profile_name / "paper_summary.csv")
        summary_html = ("<h2>Accuracy by target and protocol (pooled over folds)</h2>"
                        + summary.to_html(float_format=lambda v: f"{v:.3f}", classes="summary", table_id="paper-summary"))
    simulated = any(r.run.parameters.get("data_source", "simulated") == "simulated" for r in results)
    note = "<p><em>Reports marked simulated use srna_nb's simulated SEA-like atlas, not real samples.</em></p>" if simulated else ""
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>srna_nb reports: {html.escape(profile_name)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:70em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style>
</head><body>
<h1>srna_nb reports</h1>
<p>Profile <strong>{html.escape(profile_name)}</strong>, {len(results)} runs, {sum(r.status == 'ok' for r in results)} succeeded.</p>
{note}
{summary_html}
<h2>Reports</h2>
<table><thead><tr><th>report</th><th>notebook</th><th>status</th><th>time</th></tr></thead><tbody>
{''.join(rows)}
</tbody></table>
</body></html>
"""
    index = reports_dir / "index.html"
    _atomic_write(index, page)
    return index
