"""Leave one atlas out: sample type (tissues and biofluids) on every real atlas held out in turn.

Each atlas of ``../shared/data`` with tissue or biofluid labels (the microRNA atlas' tissue
samples, the miRNA Tissue Atlas 2, LGRC lung, and the two GEO serum studies, each its own
pipeline) is held out once; a bundle trained on all the others annotates it
(:func:`srna_nb.augment.leave_one_atlas_out`). Per held-out atlas and model (``dl``, ``rf``,
``linear`` as srna_nb builds them, and a plain scikit-learn random forest on log2-RPM of the same
features), mean over seeds and its sd: accuracy on samples of classes the model learnt,
the share of those it calls confidently and how often those calls are right, the share of
never-learnt-class samples kept out of ``confident``, and how many of those are called a type of
their own group (biofluid or solid tissue, :func:`srna_nb.vocabulary.sample_group`), and the shares
left ``unknown`` and ``low_coverage`` (the held-out matrix lacks too much of what the model relies
on). Real data only; skips when
``../shared/data`` is absent.

All the catalogue's atlases with sample types meet at the hairpin-family level (TCGA counts
hairpins; :func:`srna_nb.atlas.concat_atlases`); ``--level mature`` leaves hairpin atlases out
and compares the mature level on the rest. ``--cap tcga:sample_type,sample_code:60`` keeps at most
60 samples of each group of an atlas (drawn with seed 0), so that TCGA's 9,594 tumours fit the time;
``--train-where tcga:sample_code:11`` (the default) trains on TCGA's adjacent normals only, as the
shipped model does, while a held-out TCGA is scored on tumours and normals alike (per kind with
``--score-by sample_code``); ``--train-where none:x:y`` trains on every sample.

Usage: ``python benchmarks/leave_one_atlas_out.py [n_seeds] [--models dl,rf,linear] [--atlases a,b] [--cap atlas:columns:n]
[--level family|mature] [--protocol grouped] [--imputation mean|zero] [--novelty profile_mismatch,neighbour_mismatch] [--n-profile 800]``
(default 3 seeds, all three models, every atlas, TCGA capped at 60 per organ and kind, TCGA's normals
trained on, classes of at least 10 samples from 2 studies and 2 atlases).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
#: srna_nb's models by label (parameters of :func:`srna_nb.models.make_model`).
MODELS = {"dl": {}, "rf": {"n_estimators": 200}, "linear": {}}


def novelty_scorer(components: str | None, n_profile: int | None):
    """The novelty scorer the command line asks for, or None for the bundles' default."""
    from srna_nb.novelty import NoveltyScorer

    options = {}
    if components:
        options["components"] = tuple(components.split(","))
    if n_profile:
        options["n_profile"] = n_profile
    return NoveltyScorer(**options) if options else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("seeds", nargs="?", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--atlases", default=None, help="comma-separated catalogue names (default: every atlas with sample types)")
    parser.add_argument("--cap", action="append", default=None,
                        help="atlas:columns:n, at most n samples per group of those sample-sheet columns (repeatable)")
    parser.add_argument("--where", action="append", default=[],
                        help="atlas:column:v1,v2, keep only those samples of an atlas (repeatable), e.g. tcga:sample_code:11")
    parser.add_argument("--train-where", action="append", default=None,
                        help="atlas:column:v1,v2, the samples of an atlas that training uses; held out, all are scored "
                             "(default: tcga:sample_code:11, TCGA's adjacent normals, as tools/build_models.py)")
    parser.add_argument("--score-by", default="sample_code", help="also score held-out atlases per value of this column")
    parser.add_argument("--level", choices=["family", "mature"], default="family",
                        help="common feature level (mature leaves hairpin-level atlases out)")
    parser.add_argument("--out", type=Path, default=None, help="also write the summary table to this CSV")
    parser.add_argument("--protocol", default="grouped", help="cross-fitting of the training atlases")
    parser.add_argument("--min-class-size", type=int, default=10)
    parser.add_argument("--min-atlases", type=int, default=2,
                        help="classes of fewer training atlases are not learnt (default 2, as tools/build_models.py)")
    parser.add_argument("--imputation", choices=["mean", "zero"], default=None,
                        help="missing features of the held-out atlas (default: each bundle's, by model)")
    parser.add_argument("--novelty", default=None,
                        help="comma-separated novelty components (default: the bundles' default scorer)")
    parser.add_argument("--n-profile", type=int, default=None, help="sRNAs the novelty correlations use (default: the scorer's)")
    arguments = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (real data only)")
        return 0
    from srna_nb.augment import leave_one_atlas_out
    from srna_nb.datasets import load_sample_type_atlases
    from srna_nb.targets import TargetSelection

    started = time.perf_counter()
    atlases = load_sample_type_atlases(SHARED, names=arguments.atlases.split(",") if arguments.atlases else None)
    for cap in arguments.cap if arguments.cap is not None else ["tcga:sample_type,sample_code:60"]:
        name, columns, limit = cap.split(":")
        if name in atlases:
            atlases[name] = atlases[name].capped(columns.split(","), int(limit), random_state=0)
    for where in arguments.where:
        name, column, values = where.split(":")
        if name in atlases:
            atlases[name] = atlases[name].subset(samples=atlases[name].matching({column: values.split(",")}))
    training_where = {}
    for where in arguments.train_where if arguments.train_where is not None else ["tcga:sample_code:11"]:
        name, column, values = where.split(":")
        training_where.setdefault(name, {})[column] = values.split(",")
    if arguments.level == "mature":
        atlases = {name: atlas for name, atlas in atlases.items() if atlas.provenance.get("feature_level") != "hairpin"}
    for name, atlas in atlases.items():
        print(f"{name}: {atlas.n_samples} samples, {atlas.samples['sample_type'].nunique()} sample types, "
              f"{atlas.n_features} features ({atlas.value_kind})")
    models = {label: MODELS[label] for label in arguments.models.split(",")}
    selection = TargetSelection("sample_type", min_class_size=arguments.min_class_size, min_studies=2,
                                min_atlases=arguments.min_atlases)
    study = leave_one_atlas_out(atlases, selection, models, seeds=range(arguments.seeds), protocol=arguments.protocol,
                                imputation=arguments.imputation, level=arguments.level,
                                score_by=arguments.score_by, training_where=training_where,
                                novelty=novelty_scorer(arguments.novelty, arguments.n_profile))
    pd.set_option("display.width", 250)
    summary = study.summary()
    print(summary.round(3).to_string())
    learnt = summary[summary["learnt-class samples"] > 0].reset_index()
    whole = learnt[~learnt["held-out atlas"].str.contains("=")]  # atlases as a whole, not their parts
    for model, rows in whole.groupby("model", sort=False):
        print(f"{model}: learnt-class accuracy mean {rows['learnt-class accuracy'].mean():.3f}, worst "
              f"{rows['learnt-class accuracy'].min():.3f} ({rows.loc[rows['learnt-class accuracy'].idxmin(), 'held-out atlas']}) "
              f"over {len(rows)} atlases")
    if arguments.out is not None:
        summary.to_csv(arguments.out)
    print(f"{arguments.seeds} seeds, {len(atlases)} atlases, models {', '.join(models)}: "
          f"{time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
