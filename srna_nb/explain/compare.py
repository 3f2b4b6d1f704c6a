"""Comparing importance tables: top sRNAs, agreement between methods, precision against planted markers.

All functions take tidy importance tables with columns ``class``, ``feature``, ``importance``
(larger = more important for the class), as returned by
:func:`~srna_nb.explain.permutation.permutation_importance` and
:func:`~srna_nb.explain.gradients.class_attributions`, optionally with ``model`` and ``method``
columns that name where each table came from.
"""

from __future__ import annotations

import warnings
from itertools import combinations
from typing import Mapping

import pandas as pd
from scipy.stats import spearmanr

KEYS = ("model", "method")


def top_features(table: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The ``k`` most important features of each class (and model/method when present), ranked."""
    keys = [c for c in KEYS if c in table.columns] + ["class"]
    ranked = table.sort_values(keys[:-1] + ["class", "importance"], ascending=[True] * len(keys) + [False], kind="stable")
    top = ranked.groupby(keys, sort=False).head(k).copy()
    top.insert(len(keys), "rank", top.groupby(keys, sort=False).cumcount() + 1)
    return top.reset_index(drop=True)


def split_by_source(table: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One table per ``model method`` source of a combined table."""
    keys = [c for c in KEYS if c in table.columns]
    if not keys:
        return {"importance": table}
    return {" ".join(map(str, key if isinstance(key, tuple) else (key,))): part for key, part in table.groupby(keys, sort=False)}


def method_agreement(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, k: int = 20) -> pd.DataFrame:
    """How far two importance rankings agree, per class and pair of sources.

    Returns
    -------
    One row per class x pair: ``spearman`` (rank correlation of the importances over all
    features both rank) and ``top_k_overlap`` (share of the first source's top ``k`` that is
    also in the second's).
    """
    if isinstance(tables, pd.DataFrame):
        tables = split_by_source(tables)
    rows = []
    for (name_a, a), (name_b, b) in combinations(tables.items(), 2):
        for label in sorted(set(a["class"]) & set(b["class"]), key=str):
            first = a[a["class"] == label].set_index("feature")["importance"]
            second = b[b["class"] == label].set_index("feature")["importance"]
            shared = first.index.intersection(second.index)
            if len(shared) < 3:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a constant ranking (nothing mattered) has no correlation: NaN
                rho = spearmanr(first[shared], second[shared]).statistic
            top_a = set(first.sort_values(ascending=False).index[:k])
            top_b = set(second.sort_values(ascending=False).index[:k])
            rows.append({"class": label, "source": name_a, "compared with": name_b, "spearman": float(rho),
                         f"top_{k}_overlap": len(top_a & top_b) / k})
    return pd.DataFrame(rows)


def marker_precision(tables: Mapping[str, pd.DataFrame] | pd.DataFrame, truth, target: str, k: int = 10) -> pd.DataFrame:
    """Precision of each class' top ``k`` against the simulator's planted markers.

    ``relevant`` is :meth:`~srna_nb.simulate.SimulationTruth.class_markers` of the class (for
    the overall ``(all)`` class: every marker of the target). ``recall`` is the share of those
    markers found in the top ``k``; ``expected_by_chance`` is the precision a random ranking
    would have.
    """
    if isinstance(tables, pd.DataFrame):
        tables = split_by_source(tables)
    rows = []
    for name, table in tables.items():
        n_features = table["feature"].nunique()
        for label, part in table.groupby("class", sort=False):
            relevant = truth.class_markers(target, None if label == "(all)" else label)
            ranked = part.sort_values("importance", ascending=False)["feature"]
            relevant &= set(ranked)  # markers the detection filter removed cannot be found
            if not relevant:
                continue
            hits = len(set(ranked[:k]) & relevant)
            rows.append({"source": name, "class": label, "markers": len(relevant), f"hits_in_top_{k}": hits,
                         "precision": hits / k, "recall": hits / len(relevant),
                         "expected_by_chance": len(relevant) / n_features})
    return pd.DataFrame(rows)


def precision_summary(precision: pd.DataFrame) -> pd.DataFrame:
    """Mean precision over classes per source (the overall ``(all)`` row kept apart)."""
    per_class = precision[precision["class"] != "(all)"]
    summary = per_class.groupby("source", sort=False).agg(
        classes=("class", "size"), mean_precision=("precision", "mean"), expected_by_chance=("expected_by_chance", "mean"),
    )
    overall = precision[precision["class"] == "(all)"].set_index("source")["precision"]
    summary["overall_precision"] = overall.reindex(summary.index)
    return summary
