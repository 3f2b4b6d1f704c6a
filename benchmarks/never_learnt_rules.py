"""Never-learnt classes on a held-out atlas: how well do the scores rank them, and what would each rule give?

A diagnostic, not a tuning step: for each real atlas held out in turn, a linear ``sample_type``
bundle trained on the others annotates it; the script prints the ROC AUC with which the
calibrated probability (low = novel) and the profile mismatch (high = novel) separate samples
of never-learnt classes from learnt-class samples, then, for a grid of confidence thresholds
``p`` and profile-mismatch caps ``q``, the confident share and accuracy on learnt-class samples
and the share of never-learnt samples kept out of ``confident``. Rules read off this grid were
chosen on the held-out atlases themselves, so none is adopted from it (docs/design.md).
Real data only; skips when ``../shared/data`` is absent.

Usage: ``python benchmarks/never_learnt_rules.py [seed]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
THRESHOLDS = (0.7, 0.8, 0.9, 0.95)
CAPS = (None, 0.8, 0.7, 0.65, 0.6)


def rule_scores(table, p: float, q: float | None) -> str:
    """``confident share / confident accuracy / never-learnt kept`` of one rule on one held-out atlas."""
    learnt = table["learnt"].to_numpy()
    confident = (table["probability"].to_numpy() >= p) & (table["status"].to_numpy() != "unknown")
    if q is not None:
        confident &= table["profile_mismatch"].to_numpy() <= q
    right = (table["predicted"] == table["truth"]).to_numpy()
    share = confident[learnt].mean() if learnt.any() else np.nan
    accuracy = right[learnt & confident].mean() if (learnt & confident).any() else np.nan
    kept = (~confident[~learnt]).mean() if (~learnt).any() else np.nan
    return f"{share:.2f} / {accuracy:.2f} / {kept:.2f}"


def main(argv: list[str]) -> int:
    if not SHARED.is_dir():
        print(f"skipped: {SHARED} is absent (real data only)")
        return 0
    from sklearn.metrics import roc_auc_score
    from threadpoolctl import threadpool_limits

    from srna_nb.atlas import concat_atlases
    from srna_nb.augment import annotate, train_bundle
    from srna_nb.datasets import load_sample_type_atlases
    from srna_nb.targets import TargetSelection

    seed = int(argv[0]) if argv else 0
    started = time.perf_counter()
    atlases = load_sample_type_atlases(SHARED)
    selection = TargetSelection("sample_type", min_class_size=10, min_studies=2)
    tables = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for held_out, test in atlases.items():
            test = test.subset(samples=test.labels("sample_type").notna().to_numpy())
            training = concat_atlases({name: atlas for name, atlas in atlases.items() if name != held_out}, min_share=1.0)
            bundle = train_bundle(training, selection, "linear", {}, conflict_protocol="grouped", seed=seed, progress=False)
            table = annotate(bundle, test).table
            table["truth"] = test.labels("sample_type").to_numpy(dtype=object)
            table["learnt"] = np.isin(table["truth"], bundle.classes)
            tables[held_out] = table
            learnt = table["learnt"].to_numpy()
            line = f"{held_out}: {learnt.sum()} learnt-class / {(~learnt).sum()} never-learnt samples"
            if learnt.any() and (~learnt).any():
                line += (f"; AUC probability {roc_auc_score(~learnt, -table['probability']):.2f}, "
                         f"profile mismatch {roc_auc_score(~learnt, table['profile_mismatch']):.2f}")
            print(line, flush=True)
    print("rule | " + " | ".join(tables) + "   (confident share / confident accuracy / never-learnt kept)")
    for p in THRESHOLDS:
        for q in CAPS:
            rule = f"p {p}" + (f", q {q}" if q is not None else "")
            print(rule + " | " + " | ".join(rule_scores(table, p, q) for table in tables.values()))
    print(f"seed {seed}: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
