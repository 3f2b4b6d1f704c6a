"""The log-mean terms the simulator adds up (tissue, batch, sex, age, hemolysis) and the counts drawn from them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from srna_nb import biology
from srna_nb.targets import age_groups


def plant_tissue_effects(
    features, base, tissues, fold_range, n_random_tissue, n_random_group, programme_sd, rng
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    names = features.index
    is_mirna = (features["rna_class"] == "miRNA").to_numpy()
    # Random markers come from moderately to highly expressed miRNAs, so that they can be seen.
    candidates = np.flatnonzero(is_mirna & (base > np.quantile(base[is_mirna], 0.5)))
    abundant = np.quantile(base, 0.985)  # about the 30th most abundant feature
    groups = tissues.drop_duplicates("group")[["group", "group_idx"]].to_numpy()
    group_effects = rng.normal(0.0, programme_sd, (len(groups), len(names)))
    tissue_effects = rng.normal(0.0, programme_sd, (len(tissues), len(names)))
    rows = []

    def plant(effects, row, label, target, literature, n_random):
        picked = [(names.get_loc(m), "literature") for m in literature if m in names]
        pool = np.setdiff1d(candidates, [p for p, _ in picked])
        picked += [(int(p), "random") for p in rng.choice(pool, n_random, replace=False)]
        for position, source in picked:
            fold = rng.uniform(*fold_range)
            if source == "literature":
                # Known tissue-enriched miRNAs are among the most abundant in their tissue
                # (miR-122 is most of the liver's miRNA reads), whatever their level elsewhere.
                fold = max(fold, abundant - base[position] + rng.uniform(-1.0, 1.0))
            effects[row, position] += fold
            rows.append((target, label, names[position], fold, source))

    for group, idx in groups:
        plant(group_effects, idx, group, "tissue_group", biology.GROUP_MARKERS.get(group, ()), n_random_group)
    for idx, tissue in tissues.iterrows():
        plant(tissue_effects, idx, tissue["tissue"], "tissue", tissue["markers"], n_random_tissue)
    # piRNAs mark the gonads: thousands-fold higher in testis, clearly higher in ovary.
    pirna = (features["rna_class"] == "piRNA").to_numpy()
    for tissue, fold in (("testis", 9.0), ("ovary", 4.0)):
        if tissue in set(tissues["tissue"]):
            row = tissues.index[tissues["tissue"] == tissue][0]
            tissue_effects[row, pirna] += fold
            rows.extend(("tissue", tissue, name, fold, "literature") for name in names[pirna][:20])
    markers = pd.DataFrame(rows, columns=["target", "label", "feature", "log2_fold_change", "source"])
    return markers, group_effects, tissue_effects


def batch_effects(features, studies, samples, study_sd, prep_sd, rng) -> np.ndarray:
    """Studies x features: each study's shift (its own, its library prep's, its capture of RNA classes)."""
    n_features = len(features)
    classes = pd.factorize(features["rna_class"])[0]
    study_effect = rng.normal(0.0, study_sd, (len(studies), n_features))
    prep_effect = rng.normal(0.0, prep_sd, (len(biology.LIBRARY_PREPS), n_features))
    # Size selection and adapters decide how much non-miRNA material a protocol captures.
    capture = rng.normal(0.0, 1.0, (len(studies), classes.max() + 1))
    capture[:, classes[features["rna_class"].to_numpy() == "miRNA"][0]] = 0.0
    return study_effect + prep_effect[studies["library_prep_idx"].to_numpy()] + capture[:, classes]  # per study


def sex_effects(names, samples, fold, rng) -> tuple[pd.DataFrame, "ColumnTerm"]:
    present = [m for m in biology.X_LINKED_MIRNAS if m in names]
    folds = rng.uniform(0.5, 1.5, len(present)) * fold
    female = (samples["sex"] == "female").to_numpy()[:, None]
    term = ColumnTerm(len(names))
    term.set(names.get_indexer(present), np.where(female, folds[None, :] / 2, -folds[None, :] / 2))
    markers = pd.DataFrame(
        {"target": "sex", "label": "female", "feature": present, "log2_fold_change": folds, "source": "literature"}
    )
    return markers, term


def age_effects(names, samples, per_decade, age_bins, rng) -> tuple[pd.DataFrame, "ColumnTerm"]:
    age = samples["age"].to_numpy()
    term = ColumnTerm(len(names))
    trend = [(m, s) for m, s in biology.AGE_TREND_MIRNAS.items() if m in names]
    slopes = np.array([s for _, s in trend]) * rng.uniform(0.6, 1.4, len(trend)) * per_decade
    term.set(names.get_indexer([m for m, _ in trend]), ((age[:, None] - 45.0) / 10.0) * slopes[None, :])
    developmental = [m for m in biology.DEVELOPMENTAL_MIRNAS if m in names]
    child_fold = rng.uniform(1.5, 3.0, len(developmental))
    term.set(names.get_indexer(developmental), np.exp(-age / 8.0)[:, None] * child_fold[None, :])
    groups = age_groups(pd.Series([0.0, 70.0]), age_bins)
    markers = pd.DataFrame(
        {
            "target": "age_group",
            "label": [groups.iloc[1] if s > 0 else groups.iloc[0] for s in slopes] + [groups.iloc[0]] * len(developmental),
            "feature": [m for m, _ in trend] + developmental,
            "log2_fold_change": list(slopes * 5.0) + list(child_fold),  # trends over 50 years
            "source": "literature",
        }
    )
    return markers, term


def hemolysis_effects(names, samples, rng) -> "ColumnTerm":
    """Red-cell miRNAs leak into plasma and serum in proportion to hemolysis."""
    term = ColumnTerm(len(names))
    cell_free = samples["tissue"].isin(["plasma", "serum"]).to_numpy()
    level = rng.beta(1.2, 4.0, len(samples)) * 3.0 * cell_free
    present = [m for m in biology.HEMOLYSIS_MIRNAS if m in names]
    term.set(names.get_indexer(present), np.repeat(level[:, None], len(present), axis=1))
    return term


def negative_binomial_counts(log2_mu, library_sizes, shape, rng, blocks) -> np.ndarray:
    """Counts from log-means (``log2_mu`` is overwritten with the means, block by block)."""
    for rows in blocks:
        block = log2_mu[rows]
        block -= block.max(axis=1, keepdims=True)
        np.exp2(block, out=block)
        block /= block.sum(axis=1, keepdims=True)
        block *= library_sizes[rows, None]
    # Gamma-Poisson mixture = negative binomial with variance mean + mean^2 / shape. All gamma
    # draws precede all Poisson draws, as in one whole-matrix draw of each.
    for rows in blocks:
        log2_mu[rows] *= rng.gamma(shape, 1.0 / shape, size=log2_mu[rows].shape)
    counts = np.empty(log2_mu.shape, dtype=np.float32)
    for rows in blocks:
        counts[rows] = rng.poisson(log2_mu[rows])
    return counts


class ColumnTerm:
    """A samples x features term that is zero outside a few columns, stored as those columns only."""

    def __init__(self, n_features: int):
        self.n_features = n_features
        self.columns: list[tuple[np.ndarray, np.ndarray]] = []

    def set(self, positions: np.ndarray, values: np.ndarray) -> None:
        """Like ``term[:, positions] = values`` on the full matrix (later calls overwrite earlier ones)."""
        self.columns.append((np.asarray(positions), np.asarray(values, dtype=np.float64)))

    def block(self, rows: slice) -> np.ndarray:
        """The full term's rows ``rows``."""
        out = np.zeros((rows.stop - rows.start, self.n_features))  # blocks are bounded slices
        for positions, values in self.columns:
            out[:, positions] = values[rows]
        return out
