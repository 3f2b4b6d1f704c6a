"""How cost grows with the atlas: held-out-study evaluation (DL and RF, tissue) at 1x, 2x, 5x, 10x.

Each size runs in a fresh process so that its peak memory is its own. The atlas grows in samples
and studies together (4,243 samples and 152 studies at 1x, as SEA); features stay at ~2,000.
Prints, per size: simulation seconds, evaluation seconds (5 grouped folds, both models), peak
resident memory, and the growth of time and memory relative to 1x divided by the size factor
(1.0 = linear growth). Not a test: it prints figures.

Usage: ``python benchmarks/scaling.py [factor ...]`` (default: 1 2 5 10; RF trees: SRNA_RF_TREES, 200).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time

BASE_SAMPLES, BASE_STUDIES = 4243, 152


def one_size(factor: float) -> dict:
    """Runs inside the child process: simulate, evaluate, report seconds and peak memory."""
    import srna_nb  # noqa: F401  (sets the Keras backend)
    from srna_nb.evaluation import evaluate
    from srna_nb.models import make_model
    from srna_nb.simulate import simulate_atlas
    from srna_nb.targets import prepare_target

    started = time.perf_counter()
    atlas, _ = simulate_atlas(n_samples=int(BASE_SAMPLES * factor), n_studies=int(BASE_STUDIES * factor), seed=0)
    simulated = time.perf_counter() - started
    after_simulation = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = prepare_target(atlas, "tissue", min_studies=2)
    trees = int(os.environ.get("SRNA_RF_TREES", 200))
    models = {"dl": make_model("dl", seed=0), "rf": make_model("rf", {"n_estimators": trees}, seed=0)}
    started = time.perf_counter()
    result = evaluate(data, models, ["grouped"], n_splits=5, seed=0, progress=False)
    evaluated = time.perf_counter() - started
    fit = result.scores.groupby("model")["fit_seconds"].sum()
    accuracy = result.accuracy_table().iloc[0]
    return {
        "factor": factor, "samples": atlas.n_samples, "studies": int(atlas.studies.nunique()), "features": atlas.n_features,
        "matrix MB": atlas.counts.nbytes / 2**20, "simulate s": simulated, "evaluate s": evaluated,
        "dl fit s": float(fit["dl"]), "rf fit s": float(fit["rf"]),
        "peak MB after simulation": after_simulation, "peak MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "dl accuracy": float(accuracy["dl"]), "rf accuracy": float(accuracy["rf"]),
    }


def main(factors: list[float]) -> None:
    import pandas as pd

    rows = []
    for factor in factors:
        output = subprocess.run([sys.executable, __file__, "--child", str(factor)], capture_output=True, text=True, check=True)
        rows.append(json.loads(output.stdout.strip().splitlines()[-1]))
        print(f"{factor:g}x done: {rows[-1]['evaluate s']:.0f} s, peak {rows[-1]['peak MB']:.0f} MB", flush=True)
    table = pd.DataFrame(rows).set_index("factor")
    base = table.iloc[0]
    relative = table.index / table.index[0]
    table["time growth / size"] = (table["evaluate s"] / base["evaluate s"]) / relative
    table["memory growth / size"] = (table["peak MB"] / base["peak MB"]) / relative
    pd.set_option("display.width", 200)
    print(table.round(3).to_string())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        print(json.dumps(one_size(float(sys.argv[2]))))
    else:
        main([float(a) for a in sys.argv[1:]] or [1, 2, 5, 10])
