"""What the seeded benchmarks share: seed means and spreads per row x model, each row's table printed
as it finishes, and one command line (``[n_seeds] [--rows substring,...]``, fits on both cores)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Callable, Sequence

import pandas as pd


def summarize(rows: list[dict], metrics: Sequence[str], spread: Sequence[str]) -> pd.DataFrame:
    """Mean of ``metrics`` over seeds per (row, model), with the seed sd of each ``spread`` metric beside it."""
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["row", "model"], sort=False)
    summary = grouped[list(metrics)].mean()
    for metric in spread:
        summary.insert(summary.columns.get_loc(metric) + 1, f"{metric} sd", grouped[metric].std(ddof=0))
    summary.insert(0, "seeds", grouped.size())
    summary.insert(1, "samples", grouped["samples"].first())
    return summary


def timed(name: str, work: Callable[[], list[dict]], table: Callable[[list[dict]], pd.DataFrame]) -> list[dict]:
    """Run one row's work; its table goes to stderr at once, so a long run shows (and keeps) figures as it goes."""
    started = time.perf_counter()
    rows = work()
    print(f"  {name}: {time.perf_counter() - started:.0f} s\n{table(rows).round(3).to_string()}", file=sys.stderr, flush=True)
    return rows


def run(argv: list[str], description: str, benchmark_rows: Callable, table: Callable[[list[dict]], pd.DataFrame]) -> int:
    """Parse ``[n_seeds] [--rows ...]``, compute the rows on two local processes, print the whole table."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("n_seeds", nargs="?", type=int, default=3)
    parser.add_argument("--rows", default="", help="only rows whose name contains one of these (comma-separated)")
    arguments = parser.parse_args(argv[1:])
    import srna_nb  # noqa: F401  (sets the Keras backend)
    from srna_nb import parallel

    started = time.perf_counter()
    with parallel.use("loky", n_jobs=2):
        rows = benchmark_rows(range(arguments.n_seeds), [p for p in arguments.rows.split(",") if p])
    with pd.option_context("display.width", 250, "display.max_columns", 20):
        print(table(rows).round(3).to_string())
    print(f"\n{time.perf_counter() - started:.0f} s in all", file=sys.stderr)
    return 0
