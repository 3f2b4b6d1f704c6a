"""Batch execution: profiles of notebook x parameter-file runs, executed with papermill, rendered to HTML.

A profile (``parameters/profiles/NAME.yaml``) lists runs::

    name: default
    defaults: default.yaml          # parameter file every run starts from (optional)
    runs:
      - name: 01_atlas_overview      # report name (unique within the profile)
        notebook: 01_atlas_overview  # notebooks/<notebook>.ipynb
        parameters: [overview.yaml]  # more parameter files, applied in order (optional)
        overrides: {n_samples: 600}  # last word (optional)

Each run writes ``reports/<run-name>/<name>.ipynb`` (executed), ``<name>.html`` and a record
``<name>.run.json`` through temporary files and renames, so that an interrupted run never leaves a
half-written report. Reports run ``jobs`` at a time (default: one per core), each in its own
process and kernel; a report depends only on its own notebook and parameters, so the results do
not depend on ``jobs``. A failed notebook does not stop the others; the index pages
(:mod:`srna_nb.reports`) list every report with its status, failing cell and key figures. A report
whose content hash (notebook, parameters, input files, library source) is unchanged since its last
successful run is reused unless ``force=True``.

Layout: :mod:`~srna_nb.runner.profiles` (profiles and parameter files into runs),
:mod:`~srna_nb.runner.execution` (each report in its own process and staging folder, the profile
run), :mod:`~srna_nb.runner.reuse` (content fingerprints: when a report can be reused) and
:mod:`~srna_nb.runner.rendering` (offline HTML).
"""

from srna_nb.runner.execution import RunResult, default_jobs, execute, interrupt_on_sigterm, run_profile
from srna_nb.runner.profiles import Run, load_profile, notebook_parameters, read_yaml
from srna_nb.runner.rendering import render_html
from srna_nb.runner.reuse import is_input_parameter, run_fingerprint

__all__ = ["Run", "RunResult", "default_jobs", "execute", "interrupt_on_sigterm", "is_input_parameter", "load_profile",
           "notebook_parameters", "read_yaml", "render_html", "run_fingerprint", "run_profile"]
