"""Report bookkeeping: key figures written by notebooks, run records, and the index pages.

A notebook run by ``srna-nb run`` writes its tables into ``<report>_files/`` and, with
:func:`save_key_figures`, a few headline numbers into ``key_figures.json`` there. The runner
keeps a record per report (``<report>.run.json``: status, time, error, content hash) and builds

- ``reports/<run-name>/index.html``: that run's reports with their key figures and the
  paper-style summary table (target x protocol x model accuracy) collected from the evaluations;
- ``reports/index.html``: the same for the run that finished last, plus links to every other run.

Every page and record is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from srna_nb.errors import SrnaParameterError
from srna_nb.files import atomic_write

KEY_FIGURES_FILE = "key_figures.json"
RECORD_SUFFIX = ".run.json"


@dataclass
class RunRecord:
    """What the runner remembers of one report."""

    name: str
    notebook: str
    status: str  # "ok" or "failed"
    seconds: float
    fingerprint: str = ""
    peak_memory_mb: float = 0.0  # the kernel's (and its workers') peak resident memory; 0 = not measured
    error: str = ""
    simulated: bool = True
    reused: bool = False  # skipped because nothing changed since the recorded run
    key_figures: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- key figures (notebook side) ---------------------------------------------------------------

def save_key_figures(output_dir: str | Path | None, figures: Mapping[str, Any]) -> Path | None:
    """Write a report's headline numbers for the index (nothing when ``output_dir`` is None).

    Values should be numbers or short strings; floats are shown with three decimals.
    """
    if output_dir is None:
        return None
    path = Path(output_dir) / KEY_FIGURES_FILE
    atomic_write(path, json.dumps(dict(figures), indent=1, default=_plain))
    return path


def read_key_figures(output_dir: Path) -> dict[str, Any]:
    path = output_dir / KEY_FIGURES_FILE
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SrnaParameterError(f"{path}: not valid JSON ({error})") from None


def _plain(value):
    """JSON for numpy scalars and other objects notebooks may pass."""
    if hasattr(value, "item"):
        return value.item()
    return str(value)


# --- run records (runner side) -----------------------------------------------------------------

def record_path(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}{RECORD_SUFFIX}"


def write_record(run_dir: Path, record: RunRecord) -> None:
    atomic_write(record_path(run_dir, record.name), json.dumps(asdict(record), indent=1))


def read_record(run_dir: Path, name: str) -> RunRecord | None:
    """The stored record of one report, or None when there is none or it is unreadable."""
    path = record_path(run_dir, name)
    try:
        return RunRecord(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


# --- index pages -------------------------------------------------------------------------------

STYLE = ("body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin-bottom:1em}"
         "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}.failed{color:#b00020}"
         ".figures{font-size:90%}")


def collect_paper_summary(run_dir: Path):
    """Stack the ``paper_summary.csv`` tables that evaluation runs wrote (None when there are none)."""
    import pandas as pd

    tables = [pd.read_csv(p, index_col=[0, 1]) for p in sorted(run_dir.glob("*_files/paper_summary.csv"))]
    return pd.concat(tables) if tables else None


def _format_value(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _report_rows(records: list[RunRecord], link_prefix: str) -> str:
    rows = []
    for record in records:
        target = f"{link_prefix}{record.name}.html"
        link = f'<a href="{html.escape(target)}">{html.escape(record.name)}</a>'
        if record.ok:
            status = "ok" + (" (unchanged, reused)" if record.reused else "")
        else:
            status = f'<span class="failed">FAILED: {html.escape(record.error)}</span>'
            link += f' (<a href="{html.escape(link_prefix + record.name)}.ipynb">executed notebook</a>)'
        figures = "<br>".join(f"{html.escape(k)}: {html.escape(_format_value(v))}" for k, v in record.key_figures.items())
        rows.append(f"<tr><td>{link}</td><td>{html.escape(record.notebook)}</td><td>{status}</td>"
                    f"<td>{record.seconds:.0f} s{_memory_text(record)}</td><td class=\"figures\">{figures}</td></tr>")
    return "".join(rows)


def _memory_text(record: RunRecord) -> str:
    if not record.peak_memory_mb:
        return ""
    return f"<br>peak {record.peak_memory_mb / 1024:.1f} GB" if record.peak_memory_mb >= 1024 else f"<br>peak {record.peak_memory_mb:.0f} MB"


def run_page(run_name: str, records: list[RunRecord], summary=None, link_prefix: str = "", others: str = "") -> str:
    """HTML of one run's index (links relative to where the page lives, via ``link_prefix``)."""
    summary_html = ""
    if summary is not None:
        summary_html = ("<h2>Accuracy by target and protocol (pooled over folds)</h2>"
                        "<p>Stratified = cross-validation; grouped / leave-one-study-out = studies never seen in training.</p>"
                        + summary.to_html(float_format=lambda v: f"{v:.3f}", classes="summary", table_id="paper-summary"))
    note = ("<p><em>Simulated data: reports marked simulated use srna_nb's simulated SEA-like atlas, not real samples; "
            "their figures describe the simulator, not biology.</em></p>") if any(r.simulated for r in records) else ""
    succeeded = sum(r.ok for r in records)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>srna_nb reports: {html.escape(run_name)}</title>
<style>{STYLE}</style></head><body>
<h1>srna_nb reports</h1>
<p>Run <strong>{html.escape(run_name)}</strong>: {len(records)} reports, {succeeded} succeeded{'' if succeeded == len(records) else ', <span class="failed">' + str(len(records) - succeeded) + ' failed</span>'}.</p>
{note}
{summary_html}
<h2>Reports</h2>
<table id="reports"><thead><tr><th>report</th><th>notebook</th><th>status</th><th>time, memory</th><th>key figures</th></tr></thead><tbody>
{_report_rows(records, link_prefix)}
</tbody></table>
{others}
</body></html>
"""


def write_indexes(reports_dir: Path, run_name: str, records: list[RunRecord]) -> Path:
    """Write ``<run-name>/index.html`` and the front page ``reports/index.html``; returns the latter."""
    run_dir = reports_dir / run_name
    summary = collect_paper_summary(run_dir)
    if summary is not None:
        atomic_write(run_dir / "paper_summary.csv", summary.to_csv())
    atomic_write(run_dir / "index.html", run_page(run_name, records, summary))
    other_runs = sorted(p.parent.name for p in reports_dir.glob("*/index.html") if p.parent.name != run_name)
    others = ""
    if other_runs:
        links = "".join(f'<li><a href="{html.escape(name)}/index.html">{html.escape(name)}</a></li>' for name in other_runs)
        others = f"<h2>Other runs</h2><ul>{links}</ul>"
    front = reports_dir / "index.html"
    atomic_write(front, run_page(run_name, records, summary, link_prefix=f"{run_name}/", others=others))
    return front
