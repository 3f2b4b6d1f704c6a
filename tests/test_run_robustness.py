"""`srna-nb run` under stress: interrupted by SIGINT/SIGTERM, two runs at once, and repeatable output."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CHECKOUT

# A report that writes a table, then (with slow=True) takes long enough to be interrupted.
BODY = """
import time
from pathlib import Path
if output_dir is not None:
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "table.csv").write_text(f"value\\n{value}\\n")
if value == 99:
    time.sleep(120)
print("value", value)
"""
PROFILE = "name: t\nruns:\n  - notebook: report\n"


def _default_sigint() -> None:
    # A test suite started in the background (`make test &`) inherits SIGINT ignored, and Python
    # then keeps ignoring it; the command under test must see Ctrl-C as a user's terminal sends it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _srna_nb(root: Path, *arguments: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "srna_nb.cli", "run", "--profile", str(root / "parameters" / "profiles" / "t.yaml"),
         "--reports", str(root / "reports"), *arguments],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
    )


def _digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_run_leaves_previous_reports_intact(project_factory, signal_number):
    # Two reports, so that both run at once (one process each) when the interruption comes.
    root = project_factory({"report": BODY}, PROFILE + "  - name: again\n    notebook: report\n")
    first = _srna_nb(root)
    assert first.wait(timeout=120) == 0, first.stderr.read()
    reports = root / "reports"
    before = _digests(reports)
    assert "t/report_files/table.csv" in before and "t/again.html" in before

    # Second run with another value: it stages a new table, then sleeps; interrupt it mid-notebook.
    params = root / "slow.yaml"
    params.write_text("value: 99\n")
    second = _srna_nb(root, "--params", str(params))
    deadline = time.time() + 90
    while len(list((reports / "t").glob(".*.staging-*/*_files/table.csv"))) < 2:
        assert time.time() < deadline and second.poll() is None, "the second run never reached its notebook"
        time.sleep(0.2)
    second.send_signal(signal_number)
    assert second.wait(timeout=180) == 130  # the runner gives each report process up to 60 s to stop
    assert "interrupted" in second.stderr.read()

    assert _digests(reports) == before  # previous report, table, record and index untouched
    assert not list(reports.rglob(".*staging*")) and not list(reports.rglob("*.tmp*"))
    third = _srna_nb(root)  # the next run starts cleanly (and reuses the unchanged report)
    assert third.wait(timeout=120) == 0
    assert "unchanged, reused" in third.stdout.read()


@pytest.mark.slow
def test_two_runs_with_different_names_do_not_interfere(project_factory):
    root = project_factory({"report": BODY}, PROFILE)
    (root / "a.yaml").write_text("value: 3\n")
    (root / "b.yaml").write_text("value: 4\n")
    runs = [_srna_nb(root, "--name", name, "--params", str(root / f"{name}.yaml")) for name in ("a", "b")]
    assert [run.wait(timeout=180) for run in runs] == [0, 0]
    reports = root / "reports"
    assert (reports / "a" / "report_files" / "table.csv").read_text() == "value\n3\n"
    assert (reports / "b" / "report_files" / "table.csv").read_text() == "value\n4\n"
    for name in ("a", "b"):
        assert (reports / name / "index.html").exists() and "value 3" in (reports / "a" / "report.ipynb").read_text()
    front = (reports / "index.html").read_text()
    assert 'href="a/index.html"' in front or 'href="b/index.html"' in front  # whichever finished last links the other


@pytest.mark.slow
def test_quick_study_twice_gives_byte_identical_tables(quick_reports, tmp_path):
    """Determinism: reports of every kind of computation again, one at a time (the first run had them
    concurrently), same seed: DL / RF / linear evaluation, permutation and gradient importance, a
    calibrated bundle with its annotation, and a numeric target (a third of the study's time)."""
    from srna_nb.runner import run_profile

    first_dir, _ = quick_reports
    again = ("02_train_evaluate_sex", "03_feature_importance_sex", "04_augment_tissue", "06_numeric_target_age")
    results = run_profile("quick", reports_dir=tmp_path, only=again, echo=lambda *a, **k: None, jobs=1, root=CHECKOUT)
    assert [r.status for r in results] == ["ok"] * len(again)
    timing_free = [p for name in again for p in sorted((first_dir / "quick").glob(f"{name}_files/*.csv"))
                   if not p.name.endswith(("_scores.csv", "_timings.csv"))]  # these hold seconds
    assert len(timing_free) >= 10 and {p.parent.name for p in timing_free} == {f"{name}_files" for name in again}
    for table in timing_free:
        again = tmp_path / "quick" / table.relative_to(first_dir / "quick")
        assert table.read_bytes() == again.read_bytes(), table.name
