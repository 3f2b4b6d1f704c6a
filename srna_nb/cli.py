"""Command line: ``srna-nb run`` executes notebook profiles into HTML reports; ``srna-nb train``
makes a bundle from a labelled matrix; ``srna-nb predict`` annotates a matrix with a bundle or a
shipped model; ``srna-nb models`` lists the shipped models. The commands mirror the Python API
(:func:`srna_nb.augment.train_bundle`, :func:`~srna_nb.augment.annotate`, :func:`~srna_nb.augment.list_models`).

Errors of the user's making (files, parameters) print one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import re
import sys

import numpy as np
from pathlib import Path

from srna_nb.atlas import VALUE_KINDS
from srna_nb.errors import SrnaError
from srna_nb.hairpins import FEATURE_LEVELS
from srna_nb.logs import show_messages


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srna-nb", description="Predict and explain small-RNA sample metadata.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="execute the notebooks of a profile and render HTML reports")
    run.add_argument("--profile", default="default", help="profile name in parameters/profiles/ or a YAML path (default: default)")
    run.add_argument("--params", action="append", default=[], metavar="FILE", help="extra parameter file applied to every run (repeatable)")
    run.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this report (repeatable)")
    run.add_argument("--project", type=Path, default=None, metavar="DIR",
                     help="project folder with notebooks/ and parameters/ (default: the current directory)")
    run.add_argument("--reports", type=Path, default=None, help="output folder (default: reports/ of the project)")
    run.add_argument("--keep-code", action="store_true", help="show code cells in the HTML reports")
    run.add_argument("--name", default=None, help="run name: reports go to reports/<name>/ (default: the profile's name)")
    run.add_argument("--jobs", type=int, default=None, metavar="N",
                     help="reports executed at once, each in its own process (default: one per core; results do not depend on it)")
    run.add_argument("--force", action="store_true", help="re-run reports whose notebook, parameters and data are unchanged")
    run.add_argument("--backend", choices=["serial", "loky", "dask"], default=None,
                     help="where model fits run: serially, local processes, or a Dask cluster (default: the profile's)")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="Dask scheduler address, e.g. tcp://HOST:8786 (with --backend dask; none: a local cluster)")
    train = commands.add_parser("train", help="train a calibrated bundle on a labelled matrix, or on several atlases (--manifest)")
    _data_arguments(train, samples_required=False, counts_required=False)
    train.add_argument("--manifest", type=Path, default=None,
                       help="CSV/TSV listing several atlases (atlas, counts, samples, optional value_kind, id_column, "
                            "study_column, sample_types, where), trained on together instead of --counts/--samples")
    train.add_argument("--protocol", default="grouped", choices=["grouped", "leave_one_study_out", "leave_one_atlas_out"],
                       help="held-out cross-fitting that sets calibration and thresholds (default: grouped by study; "
                            "leave_one_atlas_out needs --manifest)")
    train.add_argument("--min-share", type=float, default=1.0,
                       help="with --manifest: keep sRNAs measured in at least this share of the atlases (default: 1, every atlas)")
    train.add_argument("--target", required=True, help="sample-sheet column to predict (classes, or a number such as age in years)")
    train.add_argument("--kind", default="auto", choices=["auto", "class", "number"],
                       help="learn the target as classes or as a number (default: a number when every value is one, with 10+ distinct values)")
    train.add_argument("--study-column", default="study", help="column naming each sample's study (held out whole)")
    train.add_argument("--model", default="linear", choices=["dl", "rf", "linear"], help="classifier or regressor (default: linear)")
    train.add_argument("--coverage", type=float, default=0.9, help="numbers: nominal coverage of the prediction interval (default: 0.9)")
    train.add_argument("--min-class-size", type=int, default=10, help="classes: drop classes with fewer labelled samples (default: 10)")
    train.add_argument("--min-studies", type=int, default=2, help="classes: drop classes seen in fewer studies (default: 2)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", type=Path, required=True, help="bundle folder to write (refused if it exists)")
    predict = commands.add_parser("predict", help="annotate samples with a bundle or a shipped model (CSV out)")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--bundle", type=Path, help="bundle folder (srna-nb train, srna_nb.augment.save_bundle)")
    source.add_argument("--model", help="name of a shipped model (srna-nb models lists them)")
    _data_arguments(predict, samples_required=False)
    predict.add_argument("--out", type=Path, required=True, help="output CSV (written to a temporary file, then renamed)")
    predict.add_argument("--min-overlap", type=float, default=None,
                         help="refuse matrices with a smaller share of the bundle's sRNAs (default: 0.1; partial matrices "
                              "get status low_coverage where they miss too much of what the model relies on)")
    predict.add_argument("--confidence", type=float, default=None, help="override the bundle's confidence threshold")
    predict.add_argument("--imputation", choices=["mean", "zero"], default=None, help="fill missing sRNAs (default: the bundle's)")
    predict.add_argument("--consensus", default=None, metavar="COLUMN",
                         help="sample-sheet column naming each sample's study: add the study's majority label, agreement and a mixed flag")
    predict.add_argument("--min-agreement", type=float, default=0.8, help="agreement below which a study is mixed (default: 0.8)")
    commands.add_parser("models", help="list the pre-trained models shipped with srna_nb")
    init = commands.add_parser("init", help="write a new project folder (notebooks, parameters, profiles) to edit and run")
    init.add_argument("folder", type=Path, help="new folder, or an existing one without notebooks/ and parameters/")
    return parser


def _data_arguments(command, samples_required: bool, counts_required: bool = True) -> None:
    """The input flags ``train`` and ``predict`` share."""
    command.add_argument("--counts", type=Path, required=counts_required, default=None,
                         help="expression matrix (CSV/TSV/.gz or .h5ad), either orientation")
    command.add_argument("--samples", type=Path, required=samples_required, default=None,
                         help="sample sheet keyed by sample id" + ("" if samples_required else "; a column named like the target is checked for conflicts"))
    command.add_argument("--id-column", default=None, help="sample id column of the sheet (default: the first)")
    command.add_argument("--value-kind", default="counts", choices=list(VALUE_KINDS),
                         help="what the numbers are (default: counts): sequencing counts, rpm or log2_rpm; array or assay "
                              "signals as intensity (linear, e.g. NanoString) or log2_intensity (e.g. RMA); never guessed")
    command.add_argument("--feature-level", default="auto", choices=["auto", *FEATURE_LEVELS],
                         help="what each row counts: mature miRNAs or hairpins (precursors, e.g. TCGA's hsa-mir-21); "
                              "auto reads it from the names and refuses a table with both")
    command.add_argument("--empty-cells", default="refuse", choices=["refuse", "unmeasured"],
                         help="empty cells of the matrix: refused (default), or read as sRNAs not measured in that sample")
    command.add_argument("--orientation", default="auto", choices=["auto", "features_x_samples", "samples_x_features"])


def _train(arguments) -> int:
    from srna_nb.augment import save_bundle, train_bundle
    from srna_nb.errors import SrnaInputError
    from srna_nb.io import load_atlas
    from srna_nb.targets import TargetSelection

    if arguments.out.exists():
        raise SrnaInputError(f"{arguments.out}: already exists; choose another --out")
    if (arguments.manifest is None) == (arguments.counts is None):
        raise SrnaInputError("give either --counts with --samples, or --manifest")
    if arguments.manifest is not None:
        from srna_nb.atlas import concat_atlases
        from srna_nb.manifest import load_manifest

        atlases = load_manifest(arguments.manifest)
        atlas = concat_atlases(atlases, min_share=arguments.min_share)
        print(f"{len(atlases)} atlases ({', '.join(f'{name}: {a.n_samples}' for name, a in atlases.items())} samples); "
              f"{atlas.provenance['features']}")
    else:
        if arguments.samples is None:
            raise SrnaInputError("--counts needs --samples (the labels to learn)")
        if arguments.protocol == "leave_one_atlas_out":
            raise SrnaInputError("--protocol leave_one_atlas_out needs several atlases: use --manifest")
        atlas = load_atlas(arguments.counts, arguments.samples, id_column=arguments.id_column, study_column=arguments.study_column,
                           value_kind=arguments.value_kind, feature_level=arguments.feature_level,
                           empty_cells=arguments.empty_cells, orientation=arguments.orientation, join="inner")
        if arguments.study_column not in atlas.samples.columns:
            raise SrnaInputError(f"{arguments.samples}: no study column {arguments.study_column!r}; pass --study-column")
    selection = TargetSelection(arguments.target, min_class_size=arguments.min_class_size, min_studies=arguments.min_studies)
    bundle = train_bundle(atlas, selection, arguments.model, protocol=arguments.protocol, kind=arguments.kind,
                          coverage=arguments.coverage, seed=arguments.seed, progress=False)
    save_bundle(bundle, arguments.out)
    summary = bundle.summary
    if bundle.kind == "number":
        print(f"Bundle for {bundle.target} ({bundle.model_name}, a number, {summary.training_samples} samples): held-out MAE "
              f"{summary.mae:.3g} (training mean: {summary.floor_mae:.3g}), {summary.coverage:.0%} interval +-{summary.half_width:.3g} "
              f"covering {summary.held_out_coverage:.1%} held out -> {arguments.out}")
        return 0
    print(f"Bundle for {bundle.target} ({bundle.model_name}, {len(bundle.classes)} classes, {summary.training_samples} samples): "
          f"held-out-study accuracy {summary.accuracy:.3f}, confident share {summary.confident_share:.3f} "
          f"-> {arguments.out}")
    return 0


def _predict(arguments) -> int:
    from srna_nb.augment import annotate, load_bundle, load_model
    from srna_nb.augment.inputs import MIN_OVERLAP
    from srna_nb.io import load_atlas

    bundle = load_model(arguments.model) if arguments.model else load_bundle(arguments.bundle)
    atlas = load_atlas(arguments.counts, arguments.samples, id_column=arguments.id_column, value_kind=arguments.value_kind,
                       feature_level=arguments.feature_level, empty_cells=arguments.empty_cells,
                       orientation=arguments.orientation, join="inner" if arguments.samples else "strict")
    min_overlap = MIN_OVERLAP if arguments.min_overlap is None else arguments.min_overlap
    annotation = annotate(bundle, atlas, min_overlap=min_overlap, confidence_threshold=arguments.confidence,
                          imputation=arguments.imputation, consensus=arguments.consensus,
                          min_agreement=arguments.min_agreement)
    annotation.write(arguments.out)
    counts = annotation.status_counts()["samples"]
    consensus = annotation.consensus
    interval = f" (+-{bundle.half_width:.3g}, {bundle.coverage:.0%} interval)" if bundle.kind == "number" else ""
    print(f"{len(annotation.table)} samples annotated for {bundle.target}{interval}: "
          + ", ".join(f"{status} {n}" for status, n in counts.items())
          + (f"; {int(annotation.table['conflict'].sum())} conflicts with the given "
             f"{'values' if bundle.kind == 'number' else 'labels'}" if "conflict" in annotation.table else "")
          + (f"; {len(consensus)} studies, {int(consensus['mixed'].sum())} mixed" if consensus is not None else "")
          + f" -> {arguments.out}")
    if bundle.kind != "number" and bundle.target in atlas.samples.columns:
        print(_given_label_scores(bundle, atlas, annotation.table))
    return 0


def _given_label_scores(bundle, atlas, table) -> str:
    """One line scoring the predictions against the sheet's own labels, learnt and never-learnt classes apart."""
    from srna_nb.augment import score_held_out
    from srna_nb.vocabulary import class_grouping

    given = atlas.labels(bundle.target).reindex(table["sample_id"]).to_numpy(dtype=object)
    labelled = np.array([isinstance(v, str) for v in given])
    scores = score_held_out(given[labelled], table["predicted"].to_numpy()[labelled], table["status"].to_numpy()[labelled],
                            bundle.classes, class_grouping(bundle.target))
    line = (f"Against the given {bundle.target} of {int(labelled.sum())} samples: {scores['learnt-class samples']} of classes "
            f"the model learnt, accuracy {scores['learnt-class accuracy']:.3f}, confident {scores['confident share']:.1%} "
            f"of them, {scores['confident accuracy']:.3f} right" if scores["learnt-class samples"] else
            f"Against the given {bundle.target} of {int(labelled.sum())} samples: none of a class the model learnt")
    if scores["never-learnt samples"]:
        line += (f"; {scores['never-learnt samples']} of classes it never learnt, {scores['never-learnt not confident']:.1%} "
                 f"of them kept out of confident")
        if not np.isnan(scores["never-learnt group accuracy"]):
            line += f", {scores['never-learnt group accuracy']:.1%} called a type of their own group (biofluid or solid tissue)"
    return line


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    show_messages()
    try:
        if arguments.command == "run":
            from srna_nb.runner import interrupt_on_sigterm, run_profile

            interrupt_on_sigterm()
            results = run_profile(
                arguments.profile,
                reports_dir=arguments.reports,
                root=arguments.project,
                only=arguments.only,
                keep_code=arguments.keep_code,
                extra_parameters=arguments.params,
                run_name=arguments.name,
                force=arguments.force,
                overrides={k: v for k, v in (("backend", arguments.backend), ("scheduler", arguments.scheduler)) if v is not None},
                echo=lambda *a, **k: print(*a, **k, flush=True),
                jobs=arguments.jobs,
            )
            failed = [r.run.name for r in results if r.status != "ok"]
            if failed:
                print(f"srna-nb: {len(failed)} of {len(results)} reports failed: {', '.join(failed)}", file=sys.stderr)
                return 1
            return 0
        if arguments.command == "predict":
            return _predict(arguments)
        if arguments.command == "train":
            return _train(arguments)
        if arguments.command == "init":
            from srna_nb.project import init_project

            init_project(arguments.folder)
            return 0
        if arguments.command == "models":
            from srna_nb.augment import list_models

            table = list_models()
            print(table.drop(columns="description").to_string(index=False) if len(table) else "no shipped models")
            return 0
    except SrnaError as error:
        print(f"srna-nb: error: {as_flags(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("srna-nb: interrupted; reports finished before stayed in place, those running were discarded", file=sys.stderr)
        return 130
    return 0


#: Library parameters that messages name, and the flags that set them on the command line.
FLAGS = {"value_kind": "--value-kind", "feature_level": "--feature-level", "orientation": "--orientation",
         "id_column": "--id-column", "study_column": "--study-column", "min_overlap": "--min-overlap", "empty_cells": "--empty-cells"}


def as_flags(message: str) -> str:
    """A library message in the command line's words: ``pass value_kind='rpm'`` -> ``pass --value-kind rpm``.

    Only the keyword-argument spelling is Python's; a bare ``value_kind`` may be a manifest column."""
    for parameter, flag in FLAGS.items():
        message = re.sub(rf"\b{parameter}\s*=\s*(['\"]?)([\w.-]+)\1", rf"{flag} \2", message)
    return message


if __name__ == "__main__":
    sys.exit(main())
