"""Command line: ``srna-nb run`` executes notebook profiles into HTML reports; ``srna-nb predict``
annotates a matrix with a saved bundle.

Errors of the user's making (files, parameters) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from srna_nb.errors import SrnaError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srna-nb", description="Predict and explain small-RNA sample metadata.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the notebooks of a profile and render HTML reports")
    run.add_argument("--profile", default="default", help="profile name in parameters/profiles/ or a YAML path (default: default)")
    run.add_argument("--params", action="append", default=[], metavar="FILE", help="extra parameter file applied to every run (repeatable)")
    run.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this report (repeatable)")
    run.add_argument("--reports", type=Path, default=None, help="output folder (default: reports/ of the project)")
    run.add_argument("--keep-code", action="store_true", help="show code cells in the HTML reports")
    run.add_argument("--name", default=None, help="run name: reports go to reports/<name>/ (default: the profile's name)")
    run.add_argument("--force", action="store_true", help="re-run reports whose notebook, parameters and data are unchanged")
    run.add_argument("--backend", choices=["serial", "loky", "dask"], default=None,
                     help="where model fits run: serially, local processes, or a Dask cluster (default: the profile's)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://HOST:8786 (with --backend dask; none: a local cluster)")
    predict = commands.add_parser("predict", help="annotate samples with a saved bundle (CSV out)")
    predict.add_argument("--bundle", type=Path, required=True, help="bundle folder (from srna_nb.augment.save_bundle)")
    predict.add_argument("--counts", type=Path, required=True, help="expression matrix (CSV/TSV/.gz or .h5ad), either orientation")
    predict.add_argument("--samples", type=Path, default=None, help="sample sheet; a column named like the target is checked for conflicts")
    predict.add_argument("--out", type=Path, required=True, help="output CSV (written to a temporary file, then renamed)")
    predict.add_argument("--min-overlap", type=float, default=0.5, help="refuse matrices with fewer of the bundle's sRNAs (default: 0.5)")
    predict.add_argument("--confidence", type=float, default=None, help="override the bundle's confidence threshold")
    predict.add_argument("--orientation", default="auto", choices=["auto", "features_x_samples", "samples_x_features"])
    return parser


def _predict(arguments) -> int:
    from srna_nb.augment import annotate, load_bundle
    from srna_nb.io import load_atlas

    bundle = load_bundle(arguments.bundle)
    atlas = load_atlas(arguments.counts, arguments.samples, value_kind=bundle.input_scale, orientation=arguments.orientation,
                       join="inner" if arguments.samples else "strict", verbose=False)
    annotation = annotate(bundle, atlas, min_overlap=arguments.min_overlap, confidence_threshold=arguments.confidence)
    annotation.write(arguments.out)
    counts = annotation.status_counts()["samples"]
    print(f"{len(annotation.table)} samples annotated for {bundle.target}: "
          + ", ".join(f"{status} {n}" for status, n in counts.items())
          + (f"; {int(annotation.table['conflict'].sum())} conflicts with the given labels" if "conflict" in annotation.table else "")
          + f" -> {arguments.out}")
    return 0


def _interrupt_on_sigterm() -> None:
    """Treat SIGTERM like Ctrl-C, so that a terminated run cleans up its staging files."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "run":
            _interrupt_on_sigterm()
            from srna_nb.runner import PROJECT_ROOT, run_profile

            results = run_profile(
                arguments.profile,
                reports_dir=arguments.reports or PROJECT_ROOT / "reports",
                only=arguments.only,
                keep_code=arguments.keep_code,
                extra_parameters=arguments.params,
                run_name=arguments.name,
                force=arguments.force,
                overrides={k: v for k, v in (("backend", arguments.backend), ("scheduler", arguments.scheduler)) if v is not None},
                echo=lambda *a, **k: print(*a, **k, flush=True),
            )
            failed = [r.run.name for r in results if r.status != "ok"]
            if failed:
                print(f"srna-nb: {len(failed)} of {len(results)} reports failed: {', '.join(failed)}", file=sys.stderr)
                return 1
            return 0
        if arguments.command == "predict":
            return _predict(arguments)
    except SrnaError as error:
        print(f"srna-nb: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("srna-nb: interrupted; reports finished before stayed in place, the one running was discarded", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
