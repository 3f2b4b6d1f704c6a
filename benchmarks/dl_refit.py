"""Does refitting the MLP on all training rows (``DLClassifier(refit=True)``) help on held-out studies?

Early stopping picks the number of epochs on a 10% inner split; with ``refit`` a fresh network is
then trained on all training rows for that many epochs. Compares both on the simulated atlas
(tissue, 5 study-grouped folds) and, when ``../shared/data/microrna_atlas`` exists, on the real
microRNAome (organ of tissue samples, leave-one-study-out), averaged over seeds. Prints pooled
accuracy and balanced accuracy per setting. Not a test: it prints figures.

Usage: ``python benchmarks/dl_refit.py [n_seeds]`` (default 3).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REAL_ATLAS = ROOT.parent / "shared" / "data" / "microrna_atlas"
#: The real profile's organ evaluation: its target and class filters are read from here.
ORGAN_PARAMETERS = ROOT / "parameters" / "microrna_atlas_organ.yaml"


def compare(data, protocol: str, n_splits: int, seeds: range) -> None:
    from srna_nb.evaluation import evaluate
    from srna_nb.models import make_model

    for refit in (False, True):
        started = time.perf_counter()
        accuracy, balanced = [], []
        for seed in seeds:
            result = evaluate(data, {"dl": make_model("dl", {"refit": refit}, seed=seed)}, [protocol],
                              n_splits=n_splits, seed=0, progress=False)
            summary = result.summary().iloc[0]
            accuracy.append(summary["pooled accuracy"])
            balanced.append(summary["pooled balanced_accuracy"])
        print(f"  refit={refit!s:5}: accuracy {sum(accuracy) / len(accuracy):.3f}, balanced accuracy "
              f"{sum(balanced) / len(balanced):.3f} (mean of {len(seeds)} seeds; per seed "
              f"{', '.join(f'{a:.3f}' for a in accuracy)}; {time.perf_counter() - started:.0f} s)", flush=True)


def main(n_seeds: int = 3) -> None:
    import srna_nb  # noqa: F401  (sets the Keras backend)
    from srna_nb.datasets import load_dataset
    from srna_nb.runner import read_yaml
    from srna_nb.simulate import simulate_atlas
    from srna_nb.targets import prepare_target

    seeds = range(n_seeds)
    atlas, _ = simulate_atlas(seed=0)
    print("Simulated atlas (default size), tissue, 5 study-grouped folds:")
    compare(prepare_target(atlas, "tissue", min_studies=2), "grouped", 5, seeds)
    if REAL_ATLAS.exists():
        real = load_dataset("microrna_atlas", path=REAL_ATLAS)[0]
        organ = read_yaml(ORGAN_PARAMETERS)
        data = prepare_target(real, organ["target"], min_class_size=organ["min_class_size"], min_studies=organ["min_studies"],
                              where=organ["where"])
        print(f"Real microRNAome atlas, {organ['target']} ({len(data.y)} samples: {organ['where']}), leave-one-study-out:")
        compare(data, "leave_one_study_out", 3, seeds)
    else:
        print(f"(real atlas not found at {REAL_ATLAS}: skipped)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
