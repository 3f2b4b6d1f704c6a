"""Where the memory of a held-out-study evaluation goes: peak resident memory per step of one fold.

Simulates an atlas of ``factor`` x the default size, then walks one grouped fold of the tissue
evaluation step by step (target rows, training rows, preprocessing, DL fit and prediction, RF fit
and prediction, then the whole ``evaluate`` job for each model) and prints, per step, the resident
memory before it, its peak, and the peak above the memory before it in units of the expression
matrix (``copies``). The issue's target: no step makes more than a small constant number of dense
copies. Not a test: it prints figures.

Usage: ``python benchmarks/memory_steps.py [factor]`` (default 10; RF trees: SRNA_RF_TREES, 200).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager

BASE_SAMPLES, BASE_STUDIES = 4243, 152


def walk_one_fold(sampler, factor: float):
    """Run the steps of one grouped fold; returns (step, MB before, peak MB, seconds) rows and the target data."""
    import gc

    from srna_nb.evaluation import _fit_and_predict, split_indices
    from srna_nb.models import make_model
    from srna_nb.simulate import simulate_atlas
    from srna_nb.targets import prepare_target

    rows = []

    @contextmanager
    def step(name: str):
        gc.collect()
        before = sampler.reset()
        started = time.perf_counter()
        yield
        seconds = time.perf_counter() - started
        time.sleep(0.01)
        rows.append((name, before, sampler.peak, seconds))
        print(f"  {name}: peak {sampler.peak / 2**20:,.0f} MB, {seconds:.1f} s", flush=True)

    with step("simulate atlas"):
        atlas, _ = simulate_atlas(n_samples=int(BASE_SAMPLES * factor), n_studies=int(BASE_STUDIES * factor), seed=0)
    with step("target rows (prepare_target)"):
        data = prepare_target(atlas, "tissue", min_studies=2)
    trees = int(os.environ.get("SRNA_RF_TREES", 200))
    train, test = split_indices(data, "grouped", n_splits=5, seed=0)[0]
    dl, rf = make_model("dl", seed=0), make_model("rf", {"n_estimators": trees}, seed=0)
    with step("training rows X[train]"):
        X_train = data.X[train]
    with step("preprocessing fit_transform"):
        Z_train = dl[0].fit_transform(X_train)
    with step("DL fit (preprocessed rows)"):
        dl[1].fit(Z_train, data.y[train])
    with step("DL predict (test rows)"):
        dl[1].predict_proba(dl[0].transform(data.X[test]))
    with step("RF fit (preprocessed rows)"):
        rf[1].fit(Z_train, data.y[train])
    with step("RF predict (test rows)"):
        rf[1].predict_proba(dl[0].transform(data.X[test]))
    del X_train, Z_train, dl, rf
    for name in ("dl", "rf"):
        model = make_model(name, {"n_estimators": trees} if name == "rf" else None, seed=0)
        with step(f"evaluation job, {name} (fit + predict)"):
            _fit_and_predict(model, data.X, data.y, train, test, False)
        del model
    return rows, data


def main(factor: float) -> None:
    import srna_nb  # noqa: F401  (sets the Keras backend)
    from srna_nb.resources import PeakMemory

    with PeakMemory(interval=0.002) as sampler:
        rows, data = walk_one_fold(sampler, factor)
    matrix_bytes = data.X.nbytes
    print(f"\n{factor:g}x: {len(data.y):,} samples x {data.X.shape[1]:,} features; "
          f"expression matrix {matrix_bytes / 2**20:,.0f} MB (float32)")
    print(f"{'step':<40} {'before MB':>10} {'peak MB':>10} {'seconds':>8} {'copies above before':>20}")
    for name, before, peak, seconds in rows:
        print(f"{name:<40} {before / 2**20:>10,.0f} {peak / 2**20:>10,.0f} {seconds:>8.1f} {(peak - before) / matrix_bytes:>20.1f}")
    print(f"process peak: {max(peak for _, _, peak, _ in rows) / 2**20:,.0f} MB "
          f"= {max(peak for _, _, peak, _ in rows) / matrix_bytes:.1f} matrices")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0)
