"""Fast exact permutation importance vs eli5's PermutationImportance, side by side in one run.

Default size (issue 4): the default simulated atlas' tissue target, a model with default
settings trained on the rest, scored on 800 held-out rows, all ~2,000 features, 3 repeats.
Prints both times, their ratio, and how many scores differ between the two tables.
Usage: ``python benchmarks/permutation_speed.py [dl|rf] [n_rows] [n_repeats] [rf_trees]``
(eli5 on a 500-tree forest at the default size takes about a quarter of an hour).
"""

from __future__ import annotations

import sys
import time

import numpy as np

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.explain import ALL_CLASSES, permutation_importance
from srna_nb.models import make_model
from srna_nb.simulate import simulate_atlas
from srna_nb.targets import prepare_target


def main(model: str = "dl", n_rows: int = 800, n_repeats: int = 3, rf_trees: int = 500) -> None:
    atlas, _ = simulate_atlas(seed=0)
    data = prepare_target(atlas, "tissue")
    order = np.random.default_rng(0).permutation(len(data.y))
    test, train = order[:n_rows], order[n_rows:]
    params = {"n_estimators": rf_trees} if model == "rf" else {}
    pipeline = make_model(model, params, seed=0).fit(data.X[train], data.y[train])
    X = pipeline[:-1].transform(data.X[test])
    y = data.y[test]
    print(f"{model} model{f' ({rf_trees} trees)' if model == 'rf' else ''}, {X.shape[0]} rows x {X.shape[1]} features, {n_repeats} repeats")
    timings, tables = {}, {}
    for method in ("fast", "eli5"):
        started = time.perf_counter()
        # The fast path also scores every class one-vs-rest (eli5 cannot): it does more work.
        table = permutation_importance(pipeline[-1], X, y, n_repeats=n_repeats, method=method, per_class=method == "fast")
        tables[method] = table[table["class"] == ALL_CLASSES].set_index("feature")
        timings[method] = time.perf_counter() - started
        print(f"{method:5s} {timings[method]:7.1f} s", flush=True)
    columns = [c for c in tables["fast"].columns if c.startswith("repeat")]
    differences = np.abs(tables["fast"].loc[tables["eli5"].index, columns].to_numpy() - tables["eli5"][columns].to_numpy())
    print(f"speed-up (eli5 / fast): {timings['eli5'] / timings['fast']:.1f}x")
    # Float32 rounding differs between the rank-one update and a full re-prediction, so a sample
    # whose top two classes tie to ~1e-7 can flip: a difference of one sample, 1 / n_rows.
    print(f"scores that differ: {(differences > 1e-12).sum()} of {differences.size}; "
          f"largest difference {differences.max():.2g} (one sample = {1 / len(y):.2g})")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    main(*(arguments[:1] + [int(a) for a in arguments[1:4]]))
