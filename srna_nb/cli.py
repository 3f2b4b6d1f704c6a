"""Command line: ``srna-nb run`` executes notebook profiles into HTML reports.

Errors of the user's making (files, parameters) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
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
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "run":
            from srna_nb.runner import PROJECT_ROOT, run_profile

            results = run_profile(
                arguments.profile,
                reports_dir=arguments.reports or PROJECT_ROOT / "reports",
                only=arguments.only,
                keep_code=arguments.keep_code,
                extra_parameters=arguments.params,
                echo=lambda *a, **k: print(*a, **k, flush=True),
            )
            failed = [r.run.name for r in results if r.status != "ok"]
            if failed:
                print(f"srna-nb: {len(failed)} of {len(results)} reports failed: {', '.join(failed)}", file=sys.stderr)
                return 1
            return 0
    except SrnaError as error:
        print(f"srna-nb: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
