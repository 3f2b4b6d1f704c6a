"""What an atlas is made of: its features and their base abundance, its studies and their samples."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from srna_nb import biology


# -- features and abundance ----------------------------------------------------------------
def feature_table(n_features: int, mirna_share: float, rng: np.random.Generator) -> pd.DataFrame:
    mirnas = biology.mirbase_mature_names()
    n_mirna = min(int(round(n_features * mirna_share)), len(mirnas))
    planted = set(_all_literature_mirnas())
    # Keep every literature miRNA, fill up with others in miRBase order (low numbers first:
    # the older, better supported miRNAs dominate real atlases).
    ordered = [m for m in mirnas if m in planted] + [m for m in mirnas if m not in planted]
    position = {name: i for i, name in enumerate(mirnas)}
    chosen_mirnas = sorted(ordered[:n_mirna], key=position.__getitem__)
    n_other = n_features - len(chosen_mirnas)
    n_pirna, n_snorna = int(round(n_other * 0.5)), int(round(n_other * 0.3))
    n_trf = n_other - n_pirna - n_snorna
    pirnas = [f"piR-hsa-{i}" for i in np.sort(rng.choice(np.arange(1000, 30000), n_pirna, replace=False))]
    snornas = [f"{family}{number}" for family, count in biology.SNORNA_FAMILIES for number in range(1, count + 1)]
    snornas = [snornas[i] for i in np.sort(rng.choice(len(snornas), n_snorna, replace=False))]
    trfs = [
        f"tRF-{end}-{anticodon}-{copy}"
        for anticodon in biology.TRNA_ANTICODONS
        for end in ("5", "3", "i")
        for copy in (1, 2)
    ]
    trfs = [trfs[i] for i in np.sort(rng.choice(len(trfs), n_trf, replace=False))]
    names = chosen_mirnas + pirnas + snornas + trfs
    classes = ["miRNA"] * len(chosen_mirnas) + ["piRNA"] * n_pirna + ["snoRNA"] * n_snorna + ["tRF"] * n_trf
    return pd.DataFrame({"rna_class": classes}, index=pd.Index(names, name="feature"))


def _all_literature_mirnas() -> list[str]:
    groups = [m for markers in biology.GROUP_MARKERS.values() for m in markers]
    tissues = [m for t in biology.TISSUES for m in t.markers]
    return list(
        dict.fromkeys(
            biology.DOMINANT_MIRNAS + tuple(groups) + tuple(tissues) + biology.X_LINKED_MIRNAS
            + tuple(biology.AGE_TREND_MIRNAS) + biology.DEVELOPMENTAL_MIRNAS + biology.HEMOLYSIS_MIRNAS
        )
    )


def _mirbase_number(name: str) -> int:
    match = re.match(r"hsa-(?:miR|let)-(\d+)", name)
    return int(match.group(1)) if match else 0


def base_abundance(features: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """log2 share of each feature in an average library: a few dominate, most are rare.

    Rank-abundance follows a power law (Zipf exponent ~2) with jitter. Dominant miRNAs take the
    top ranks; high miRBase numbers (recent, often poorly supported entries) sink to the bottom,
    as they do in real atlases.
    """
    names = features.index
    classes = features["rna_class"].to_numpy()
    score = rng.normal(0.0, 1.0, len(names))
    numbers = np.array([_mirbase_number(n) for n in names])
    score -= 1.5 * (numbers >= 1000) + 1.5 * (numbers >= 3000) + 1.0 * (numbers >= 5000)
    score -= 0.6 * np.array([n.endswith("-3p") or "-3p" in n for n in names]) * (classes == "miRNA")
    score[classes == "piRNA"] -= 2.5  # piRNAs are rare outside the gonads
    score[classes == "snoRNA"] -= 0.5
    score[classes == "tRF"] -= 0.3
    dominant = [names.get_loc(m) for m in biology.DOMINANT_MIRNAS if m in names]
    score[dominant] = 100.0 - np.arange(len(dominant))
    ranks = np.empty(len(names))
    ranks[np.argsort(-score)] = np.arange(1, len(names) + 1)
    return np.log2(0.12) - 2.45 * np.log2(ranks) + rng.normal(0.0, 0.4, len(names))


# -- studies and samples -----------------------------------------------------------------------
def study_design(n_samples: int, n_studies: int | None, tissues: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Studies of very different sizes, each on one to three (mostly related) tissues."""
    n_studies = n_studies or max(2, int(round(n_samples / 28)))
    n_studies = min(n_studies, n_samples // 3)
    sizes = _study_sizes(n_samples, n_studies, rng)
    prevalence = tissues["prevalence"].to_numpy() / tissues["prevalence"].sum()
    # Every tissue leads at least two studies where there is room, so that held-out-study
    # evaluation is possible for it; the remaining studies follow SEA-like prevalence.
    # Rare tissues come from small studies: the largest studies take prevalence-weighted tissues.
    round_robin = np.tile(np.arange(len(tissues)), 2)[: n_studies]
    rng.shuffle(round_robin)
    by_size = np.argsort(-sizes, kind="stable")
    primary = np.empty(n_studies, dtype=int)
    primary[by_size] = np.concatenate(
        [rng.choice(len(tissues), n_studies - len(round_robin), p=prevalence), round_robin]
    )
    study_tissues = []
    for lead in primary:
        k = rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1])
        same_group = np.flatnonzero((tissues["group_idx"] == tissues["group_idx"][lead]).to_numpy())
        chosen = [lead]
        for _ in range(k - 1):
            pool = same_group if rng.random() < 0.6 else np.arange(len(tissues))
            pool = [t for t in pool if t not in chosen]
            if pool:
                chosen.append(rng.choice(pool))
        study_tissues.append(chosen)
    ids = [f"simGSE{n}" for n in np.sort(rng.choice(np.arange(10000, 99999), n_studies, replace=False))]
    reported_sex = rng.random(n_studies) < 0.55
    reported_age = rng.random(n_studies) < 0.5
    return pd.DataFrame(
        {
            "study": ids,
            "size": sizes,
            "tissues": study_tissues,
            "library_prep_idx": rng.choice(len(biology.LIBRARY_PREPS), n_studies, p=[0.5, 0.25, 0.15, 0.1]),
            # Sequencing depth differs by study (instrument, multiplexing): median 1-20 M reads.
            "log10_depth": rng.uniform(6.3, 7.4, n_studies),
            # Studies recruit donors of a typical age: children, adults or the elderly.
            "age_mean": np.where(rng.random(n_studies) < 0.12, rng.uniform(2, 14, n_studies), rng.uniform(25, 75, n_studies)),
            "age_sd": rng.uniform(4, 14, n_studies),
            "reports_sex": reported_sex,
            "reports_age": reported_age,
        }
    )


def _study_sizes(n_samples: int, n_studies: int, rng: np.random.Generator, smallest: int = 3, largest: int = 110) -> np.ndarray:
    """Log-normal study sizes (a handful to ~100 samples) that add up to ``n_samples``."""
    largest = max(largest, -(-n_samples // n_studies))
    sizes = np.exp(rng.normal(np.log(n_samples / n_studies) - 0.3, 0.8, n_studies))
    for _ in range(50):  # rescale and clip until the total fits; converges in a few rounds
        sizes = np.clip(sizes * n_samples / sizes.sum(), smallest, largest)
    sizes = np.floor(sizes).astype(int)
    shortfall = n_samples - sizes.sum()
    room = np.flatnonzero(sizes < largest)
    sizes[rng.choice(room, shortfall, replace=shortfall > len(room))] += 1
    return sizes


def sample_table(studies: pd.DataFrame, tissues: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for study_idx, study in studies.iterrows():
        share = rng.dirichlet(np.full(len(study["tissues"]), 2.0))
        assignment = rng.choice(study["tissues"], size=study["size"], p=share)
        for tissue_idx in assignment:
            rows.append((study_idx, tissue_idx))
    frame = pd.DataFrame(rows, columns=["_study_idx", "_tissue_idx"])
    n = len(frame)
    frame["_group_idx"] = tissues["group_idx"].to_numpy()[frame["_tissue_idx"]]
    frame["study"] = studies["study"].to_numpy()[frame["_study_idx"]]
    frame["tissue"] = tissues["tissue"].to_numpy()[frame["_tissue_idx"]]
    frame["tissue_group"] = tissues["group"].to_numpy()[frame["_tissue_idx"]]
    forced_sex = tissues["sex"].to_numpy()[frame["_tissue_idx"]]
    # Many studies recruit mostly one sex; the female share varies by study.
    female_share = rng.beta(0.8, 0.8, len(studies))[frame["_study_idx"]]
    random_sex = np.where(rng.random(n) < female_share, "female", "male")
    frame["sex"] = np.where(pd.isna(forced_sex), random_sex, forced_sex).astype(object)
    age = rng.normal(studies["age_mean"].to_numpy()[frame["_study_idx"]], studies["age_sd"].to_numpy()[frame["_study_idx"]])
    frame["age"] = np.clip(np.round(age), 0, 95)
    frame["library_prep"] = np.asarray(biology.LIBRARY_PREPS, dtype=object)[
        studies["library_prep_idx"].to_numpy()[frame["_study_idx"]]
    ]
    log10_depth = studies["log10_depth"].to_numpy()[frame["_study_idx"]] + rng.normal(0.0, 0.25, n)
    frame["_library_size"] = np.round(10 ** np.clip(log10_depth, 5.5, 7.65))
    ids = np.sort(rng.choice(np.arange(1_000_000, 9_999_999), n, replace=False))
    frame.index = pd.Index([f"simSRR{i}" for i in ids], name="sample_id")
    # Samples of a study sit together, as they do in a real atlas.
    return frame
