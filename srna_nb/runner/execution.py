"""Executing reports: each in a staging folder (papermill, then HTML), several at once in their own processes."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Iterable

from srna_nb import reports
from srna_nb.errors import SrnaParameterError
from srna_nb.reports import RunRecord
from srna_nb.resources import PeakMemory
from srna_nb.runner.profiles import Run, load_profile, notebook_parameters
from srna_nb.runner.rendering import render_html
from srna_nb.runner.reuse import reusable_record, run_fingerprint


@dataclass
class RunResult:
    """One executed (or reused) report: its run, record and files."""

    run: Run
    record: RunRecord
    html: Path | None = None
    executed: Path | None = None

    @property
    def status(self) -> str:
        return self.record.status

    @property
    def error(self) -> str:
        return self.record.error

    @property
    def seconds(self) -> float:
        return self.record.seconds


@lru_cache(maxsize=1)
def _kernel_manager_class():
    """jupyter_client's kernel manager, asking for CurveZMQ-encrypted kernel sockets when the kernel supports them.

    ipykernel >= 7.3 warns on every start of a kernel bound to TCP without encryption; the
    kernel only talks to this process, so encrypting (where libzmq can) is the clean answer.
    """
    import zmq
    from jupyter_client import AsyncKernelManager
    from traitlets import default

    class LocalKernelManager(AsyncKernelManager):
        @default("transport_encryption")
        def _default_transport_encryption(self) -> str:
            return "auto" if zmq.has("curve") else "disabled"

    return LocalKernelManager


def _failure_text(failure) -> str:
    """One line: the failing cell (number and first line of code) and the error."""
    first_line = next((line for line in (failure.source or "").splitlines() if line.strip()), "")
    value = (str(failure.evalue).splitlines() or [""])[0]
    return f"cell {failure.exec_count} (`{first_line[:80]}`): {failure.ename}: {value}"


def execute(run: Run, output_dir: Path, keep_code: bool = False, log_output: bool = False, fingerprint: str = "") -> RunResult:
    """Execute one run with papermill and render its HTML; failures are captured, not raised.

    Everything is produced in a staging folder beside the reports and moved into place at the
    end, so an interrupted run (Ctrl-C, SIGTERM) leaves the previous report, its tables and its
    bundle as they were. A failed run does replace them: its executed notebook shows the error.
    """
    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=output_dir, prefix=f".{run.name}.staging-"))
    try:
        executed = staging / f"{run.name}.ipynb"
        files = staging / f"{run.name}_files"  # same folder name as in place: relative links survive the move
        parameters = dict(run.parameters)
        if "output_dir" in notebook_parameters(run.notebook):
            parameters["output_dir"] = str(files.resolve())
        started = time.perf_counter()
        error = ""
        try:
            with PeakMemory(children=True, interval=0.2) as memory:
                papermill.execute_notebook(
                    str(run.notebook), str(executed), parameters=parameters, kernel_name="python3",
                    cwd=str(run.notebook.parent), progress_bar=False, log_output=log_output,
                    kernel_manager_class=_kernel_manager_class(),
                )
        except papermill.PapermillExecutionError as failure:
            error = _failure_text(failure)
        except Exception as failure:  # noqa: BLE001 - a broken kernel must not stop the other runs
            error = f"{type(failure).__name__}: {failure}"
        # Keep the executed notebook in both cases: with an error it shows the failing cell.
        if executed.exists() and executed.stat().st_size:
            render_html(executed, staging / f"{run.name}.html", keep_code=keep_code)
        record = RunRecord(
            name=run.name, notebook=run.notebook.name, status="failed" if error else "ok",
            seconds=time.perf_counter() - started, fingerprint="" if error else fingerprint, error=error,
            peak_memory_mb=memory.peak / 2**20,
            simulated=run.parameters.get("data_source", "simulated") == "simulated",
            key_figures=reports.read_key_figures(files) if not error else {},
        )
        _publish(staging, output_dir, run.name)
        reports.write_record(output_dir, record)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    html_path, executed_path = output_dir / f"{run.name}.html", output_dir / f"{run.name}.ipynb"
    return RunResult(run=run, record=record, html=html_path if html_path.exists() else None,
                     executed=executed_path if executed_path.exists() else None)


def _publish(staging: Path, output_dir: Path, name: str) -> None:
    """Move a finished run's notebook, HTML and files folder into place (old ones out first)."""
    files = output_dir / f"{name}_files"
    if files.exists():
        os.replace(files, staging / "replaced_files")  # removed with the staging folder
    if (staging / f"{name}_files").exists():
        os.replace(staging / f"{name}_files", files)
    for suffix in (".ipynb", ".html"):
        if (staging / f"{name}{suffix}").exists():
            os.replace(staging / f"{name}{suffix}", output_dir / f"{name}{suffix}")
        else:  # nothing executed (e.g. no kernel): no stale report may stay linked
            (output_dir / f"{name}{suffix}").unlink(missing_ok=True)


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so that a terminated run cleans up its staging files."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def default_jobs() -> int:
    """Reports executed at once by default: one per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


#: Thread-pool variables given to the kernels of concurrent reports (unless already set), so that
#: ``jobs`` kernels share the cores instead of each starting one BLAS thread per core.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _execute_in_process(connection, run: Run, output_dir: Path, keep_code: bool, fingerprint: str, threads: int) -> None:
    """Body of a report process: execute one run and send its result back (Ctrl-C / SIGTERM: clean exit)."""
    interrupt_on_sigterm()
    for variable in THREAD_VARIABLES:
        os.environ.setdefault(variable, str(threads))
    try:
        connection.send(execute(run, output_dir, keep_code=keep_code, fingerprint=fingerprint))
    except KeyboardInterrupt:  # execute() has removed its staging folder on the way out
        os._exit(130)
    finally:
        connection.close()


def _execute_concurrently(runs: list[tuple[int, Run, str]], run_dir: Path, keep_code: bool, jobs: int, on_done) -> None:
    """Execute ``runs`` (position, run, fingerprint) in up to ``jobs`` processes; ``on_done(position, result)`` in completion order.

    Each report gets a fresh process (spawned, so no state is inherited) running one kernel. On
    Ctrl-C or SIGTERM every report process is terminated, which lets each clean up its staging
    folder, and the interruption is raised here.
    """
    context = multiprocessing.get_context("spawn")
    threads = max(1, default_jobs() // jobs)
    pending = list(runs)
    live: dict[Any, tuple[int, Run, Any, Any]] = {}
    try:
        while pending or live:
            while pending and len(live) < jobs:
                position, run, fingerprint = pending.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_execute_in_process, name=f"srna-nb {run.name}",
                                          args=(sender, run, run_dir, keep_code, fingerprint, threads))
                process.start()
                sender.close()
                live[receiver] = (position, run, process, receiver)
            # Wait on the pipes, not the processes: a result is read as soon as it is sent (a
            # process blocked on a full pipe never ends), and a process that dies closes its pipe.
            for ready in wait(list(live)):
                position, run, process, receiver = live.pop(ready)
                try:
                    result = receiver.recv()
                except EOFError:
                    result = None
                process.join()
                if result is None:  # the process died before it could report: say so, never guess
                    record = RunRecord(name=run.name, notebook=run.notebook.name, status="failed", seconds=0.0,
                                       fingerprint="", error=f"report process ended with exit code {process.exitcode}")
                    reports.write_record(run_dir, record)
                    result = RunResult(run, record)
                on_done(position, result)
    except KeyboardInterrupt:
        for position, run, process, receiver in live.values():
            process.terminate()
        for position, run, process, receiver in live.values():
            process.join(timeout=60)
        raise


def run_profile(
    profile: str | Path,
    reports_dir: str | Path | None = None,
    only: Iterable[str] = (),
    keep_code: bool = False,
    extra_parameters: Iterable[str | Path] = (),
    echo=print,
    root: str | Path | None = None,
    run_name: str | None = None,
    force: bool = False,
    overrides: dict[str, Any] | None = None,
    jobs: int | None = None,
) -> list[RunResult]:
    """Execute every run of a profile (or those named in ``only``), then write the index pages.

    ``root`` is the project folder (default: the current directory). Reports go to
    ``reports_dir/<run_name>/`` (default: the project's ``reports/`` and the profile's name). A report whose
    notebook, parameters, input files and library source are unchanged since its last successful
    run is reused unless ``force``. ``overrides`` (e.g. ``backend``, ``scheduler``) go to every
    notebook that declares them. ``jobs`` reports run at once (default: :func:`default_jobs`;
    1 runs them one after the other in this process).
    """
    jobs = default_jobs() if jobs is None else jobs
    if not isinstance(jobs, int) or jobs < 1:
        raise SrnaParameterError(f"jobs must be a positive whole number, got {jobs!r}")
    profile_name, runs = load_profile(profile, root=root, extra_parameters=extra_parameters, overrides=overrides)
    reports_dir = Path(reports_dir) if reports_dir is not None else runs[0].notebook.parent.parent / "reports"
    run_name = run_name or profile_name
    if not run_name or any(c in run_name for c in "/\\") or run_name.startswith("."):
        raise SrnaParameterError(f"run name {run_name!r} must be a plain folder name")
    only = set(only)
    all_runs = runs
    if only:
        unknown = only - {r.name for r in runs}
        if unknown:
            raise SrnaParameterError(f"--only {sorted(unknown)[0]!r} is not a run of profile {profile_name}; runs: {', '.join(r.name for r in runs)}")
        runs = [r for r in runs if r.name in only]
    run_dir = reports_dir / run_name
    finished: dict[int, RunResult] = {}
    started = time.perf_counter()

    def done(position: int, result: RunResult) -> None:
        finished[position] = result
        if result.record.reused:
            outcome = "unchanged, reused (--force to redo)"
        else:
            outcome = (f"{result.status} in {result.seconds:.0f} s, peak {result.record.peak_memory_mb:,.0f} MB"
                       + (f": {result.error}" if result.error else ""))
        echo(f"[{position}/{len(runs)}] {result.run.name} ({result.run.notebook.name}): {outcome}; "
             f"{len(runs) - len(finished)} left, {time.perf_counter() - started:.0f} s elapsed")

    to_execute = []
    for position, run in enumerate(runs, start=1):
        fingerprint = run_fingerprint(run, keep_code)
        reused = None if force else reusable_record(run, run_dir, fingerprint)
        if reused is not None:
            reused.reused = True
            done(position, RunResult(run, reused, html=run_dir / f"{run.name}.html", executed=run_dir / f"{run.name}.ipynb"))
        else:
            to_execute.append((position, run, fingerprint))
    if jobs == 1 or len(to_execute) == 1:
        for position, run, fingerprint in to_execute:
            done(position, execute(run, run_dir, keep_code=keep_code, fingerprint=fingerprint))
    elif to_execute:
        echo(f"{len(to_execute)} reports, {min(jobs, len(to_execute))} at a time")
        # Longest first (by the last recorded time, else the profile's estimate), so that no long report
        # starts last and runs alone.
        previous = {run.name: getattr(reports.read_record(run_dir, run.name), "seconds", 0.0) or run.expected_seconds
                    for _, run, _ in to_execute}
        to_execute.sort(key=lambda job: -previous[job[1].name])
        _execute_concurrently(to_execute, run_dir, keep_code, jobs, done)
    results = [finished[position] for position in sorted(finished)]
    # The index lists every report of the profile: those run now, and earlier records of the others.
    fresh = {r.run.name: r.record for r in results}
    records = [fresh.get(r.name) or reports.read_record(run_dir, r.name) for r in all_runs]
    reports.write_indexes(reports_dir, run_name, [r for r in records if r is not None])
    return results
