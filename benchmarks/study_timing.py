"""Time the default study's evaluation (four targets x three models x two protocols) on 2 cores.

Budget (issue 3): the whole default report under 15 minutes on a 2-core machine without GPU.
Prints seconds per target and model, the total and the peak resident memory (budget, issue 7:
under 3 GB); the figures are measured, nothing is assumed.
Usage: ``python benchmarks/study_timing.py [n_samples] [rf_trees]``.
"""

from __future__ import annotations

import resource
import sys
import time

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.evaluation import evaluate, paper_style_summary
from srna_nb.models import make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target


def main(n_samples: int = 4243, rf_trees: int = 200) -> None:
    atlas, _ = simulate_atlas(n_samples=n_samples, seed=0)
    evaluations, started = [], time.perf_counter()
    for target in ("tissue", "tissue_group", "sex", "age_group"):
        target_started = time.perf_counter()
        data = prepare_target(atlas, target, min_studies=2)
        models = {"dl": make_model("dl", seed=0), "rf": make_model("rf", {"n_estimators": rf_trees}, seed=0),
                  "linear": make_model("linear", seed=0)}
        evaluation = evaluate(data, models, ("stratified", "grouped"), seed=0, progress=False)
        evaluations.append(evaluation)
        per_model = evaluation.scores.groupby("model", sort=False)["fit_seconds"].sum()
        print(f"{target:13s} {time.perf_counter() - target_started:6.0f} s  (fit seconds: "
              + ", ".join(f"{m} {s:.0f}" for m, s in per_model.items()) + ")", flush=True)
    print(f"total evaluation: {time.perf_counter() - started:.0f} s for {atlas.n_samples} samples, RF {rf_trees} trees")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MB (budget: 3,072 MB); expression matrix {atlas.counts.nbytes / 2**20:.0f} MB float32")
    print(paper_style_summary(evaluations).round(3).to_string())


if __name__ == "__main__":
    arguments = [int(a) for a in sys.argv[1:3]]
    main(*arguments)
