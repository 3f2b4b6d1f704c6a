"""Print how the simulated atlas compares with the real-atlas facts it was calibrated against.

Realism targets (shared/REFERENCE.md, measured on a real 528-sample miRNA atlas): library sizes
10th/50th/90th percentile 1.9 / 6.5 / 18.6 M reads, ~66% zero entries, ~67% of miRNAs detected in
>= 10% of samples. Difficulty targets (Fiosina et al. 2020, DL): tissue 96.5% cross-validated and
83.1% on new datasets, tissue group 98%, sex 77%, age group 77.2%; the linear baseline printed here
should land near those figures. Usage: ``python benchmarks/simulator_calibration.py [n_samples] [seed]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.evaluation import evaluate, paper_style_summary
from srna_nb.models import make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target


def main(n_samples: int = 4243, seed: int = 0) -> None:
    started = time.perf_counter()
    atlas, truth = simulate_atlas(n_samples=n_samples, seed=seed)
    print(f"simulated {atlas.n_samples} x {atlas.n_features} in {time.perf_counter() - started:.1f} s (seed {seed})")
    low, mid, high = np.percentile(atlas.library_sizes(), [10, 50, 90]) / 1e6
    print(f"library size 10/50/90th percentile: {low:.2f} / {mid:.2f} / {high:.2f} M reads (real atlas: 1.9 / 6.5 / 18.6)")
    print(f"zero entries: {(atlas.counts == 0).mean():.1%} (real atlas: 66%)")
    mirna = (atlas.features["rna_class"] == "miRNA").to_numpy()
    detected = ((atlas.counts[:, mirna] > 0).mean(axis=0) >= 0.1).mean()
    print(f"miRNAs detected in >= 10% of samples: {detected:.0%} (real atlas: 67%)")
    print(f"studies: {atlas.studies.nunique()}, sizes {atlas.studies.value_counts().min()}-{atlas.studies.value_counts().max()}")
    print(f"missing: tissue {atlas.labels('tissue').isna().mean():.1%}, sex {atlas.labels('sex').isna().mean():.1%}, "
          f"age {atlas.labels('age').isna().mean():.1%}; planted wrong labels: {len(truth.mislabels)}")
    evaluations = []
    for target in ("tissue", "tissue_group", "sex", "age_group"):
        data = prepare_target(atlas, target, min_studies=2)
        evaluations.append(evaluate(data, {"linear": make_model("linear", seed=seed)}, ("stratified", "grouped"), seed=seed, progress=False))
    print("\nlinear baseline, pooled accuracy (paper, DL: tissue 0.965 / 0.831, group 0.98, sex 0.77, age 0.772):")
    print(paper_style_summary(evaluations).round(3).to_string())
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
