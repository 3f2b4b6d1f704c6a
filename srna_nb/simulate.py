"""A deterministic simulator of SEA-like small-RNA atlases (simulated data, not real samples).

The small RNA Expression Atlas (SEA) used by Fiosina et al. (2020) cannot be downloaded here, so
the package ships this simulator. It builds, for a seed, an atlas with SEA's structure and
difficulty and returns, separately, the ground truth it planted.

Generative model (log2 scale, per sample ``i`` of study ``s``, tissue ``t`` in group ``g``, feature ``f``)::

    log2 mu[i, f] = base[f]                       heavy-tailed abundance (miR-21, let-7, miR-143 on top)
                  + group[g, f] + tissue[t, f]    planted markers plus diffuse tissue programmes
                  + study[s, f] + kit[k(s), f]    batch: study effect and library-prep ligation bias
                  + class_capture[s, class(f)]    how much piRNA/snoRNA/tRF a protocol captures
                  + sex, age, hemolysis terms     weak X-linked, ageing and red-cell effects
                  + bio[i, f]                     sample-to-sample biological variation
    p[i, :]   = normalised 2 ** log2 mu[i, :]
    count[i, f] ~ NegativeBinomial(mean = library_size[i] * p[i, f], dispersion = 1 / nb_shape)

Calibration (see ``benchmarks/simulator_calibration.py``): with the defaults, library sizes span
about 0.3 to 40 million reads (10th/50th/90th percentiles near 2, 6.5 and 19 million), about two
thirds of all entries are zero, and a regularized logistic regression on log2(RPM + 1) reaches
roughly the study's figures: tissue near 0.95 in stratified cross-validation but clearly lower when
whole studies are held out, tissue group higher, sex and age group in the 0.7-0.8 range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from srna_nb import biology
from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaParameterError
from srna_nb.targets import DEFAULT_AGE_BINS, age_groups

SIMULATED_NOTE = "simulated SEA-like atlas (srna_nb simulator; not real samples)"
#: Rows per block when building the samples x features matrices.
ROW_BLOCK = 2048


@dataclass(frozen=True)
class SimulationTruth:
    """What the simulator planted, for measuring marker recovery and mislabel detection.

    Attributes
    ----------
    samples
        True metadata of every sample (no missing values, no wrong labels): tissue,
        tissue_group, sex, age, age_group.
    markers
        Tidy table of planted effects: ``target`` (tissue, tissue_group, sex, age_group),
        ``label`` (the class the effect marks, e.g. ``liver`` or ``female``), ``feature``,
        ``log2_fold_change`` and ``source`` (``literature`` or ``random``).
    mislabels
        Labels planted wrong in the sample sheet: ``sample_id``, ``column``, ``given``, ``true``.
    hidden
        Labels removed from the sample sheet: ``sample_id``, ``column``, ``true``.
    settings
        The simulator's arguments, for reports.
    """

    samples: pd.DataFrame
    markers: pd.DataFrame
    mislabels: pd.DataFrame
    hidden: pd.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)

    def markers_of(self, target: str, label: str | None = None) -> list[str]:
        """Planted marker features of one target (and one class of it), strongest first."""
        table = self.markers[self.markers["target"] == target]
        if label is not None:
            table = table[table["label"] == label]
        table = table.reindex(table["log2_fold_change"].abs().sort_values(ascending=False).index)
        return list(dict.fromkeys(table["feature"]))

    def class_markers(self, target: str, label: str | None = None) -> set[str]:
        """Planted features that tell ``label`` apart from the other classes of ``target``.

        A tissue's own markers plus those of its tissue group; for a class with no marker of its
        own (e.g. ``male``: sex effects are planted as female-high), or ``label=None``, every
        marker of the target (and, for tissue, of tissue groups).
        """
        targets = [target, "tissue_group"] if target == "tissue" else [target]
        every = set(self.markers.loc[self.markers["target"].isin(targets), "feature"])
        own = set(self.markers_of(target, label)) if label is not None else set()
        if not own:
            return every
        if target == "tissue":
            groups = self.samples.loc[self.samples["tissue"] == label, "tissue_group"].unique()
            for group in groups:
                own |= set(self.markers_of("tissue_group", group))
        return own


def simulate_atlas(
    n_samples: int = 4243,
    seed: int = 0,
    *,
    n_features: int = 2000,
    n_studies: int | None = None,
    tissues: list[str] | None = None,
    mirna_share: float = 0.82,
    marker_log2_fold_change: tuple[float, float] = (1.0, 3.0),
    random_markers_per_tissue: int = 3,
    random_markers_per_group: int = 4,
    tissue_programme_sd: float = 0.3,
    study_effect_sd: float = 0.8,
    library_prep_effect_sd: float = 1.0,
    biological_sd: float = 0.45,
    nb_shape: float = 8.0,
    sex_log2_fold_change: float = 0.8,
    age_log2_change_per_decade: float = 0.5,
    missing_tissue: float = 0.03,
    missing_sex: float = 0.45,
    missing_age: float = 0.5,
    mislabel_rate: float = 0.02,
    age_bins: tuple[float, ...] = DEFAULT_AGE_BINS,
) -> tuple[Atlas, SimulationTruth]:
    """Simulate a SEA-like small-RNA atlas of raw counts with realistic metadata.

    Parameters
    ----------
    n_samples
        Number of samples (SEA's annotated human samples: 4,243).
    seed
        Seed of the random generator; the same seed and arguments give the same atlas.
    n_features
        Number of features; ``mirna_share`` of them are miRNAs with miRBase names, the rest
        piRNAs, snoRNAs and tRNA fragments.
    n_studies
        Number of studies; default one per ~28 samples (152 for the default size). Every tissue
        leads at least two studies only when there are at least twice as many studies as
        tissues; with fewer, rare tissues sit in one or two studies, fall out of held-out-study
        evaluation, and the tissues left are learnt from one study each fold, so held-out-study
        accuracy drops far below the default atlas' (see ``docs/design.md``).
    tissues
        Names of tissues to include (default: all 33 of :data:`srna_nb.biology.TISSUES`).
    marker_log2_fold_change
        Range of planted marker effects (log2 fold change over other tissues).
    random_markers_per_tissue, random_markers_per_group
        Markers drawn at random among expressed miRNAs, on top of the literature ones.
    tissue_programme_sd
        SD of diffuse per-tissue effects on all features (many small differences).
    study_effect_sd, library_prep_effect_sd
        SD of per-study and per-library-prep-kit effects on every feature (batch effects).
    biological_sd, nb_shape
        Sample-level log-normal variation and negative-binomial shape (larger: less noise).
    sex_log2_fold_change
        Female-over-male effect on X-linked miRNAs (weak, as in real data).
    age_log2_change_per_decade
        Steady ageing effect on age-trend miRNAs; the 14q32 cluster adds a fading child signal.
    missing_tissue, missing_sex, missing_age
        Shares of samples whose label is missing in the sample sheet (sex and age mostly
        missing for whole studies, as in public metadata).
    mislabel_rate
        Share of given tissue and sex labels planted wrong.
    age_bins
        Edges used to derive ``age_group`` from ``age``.

    Returns
    -------
    atlas, truth
        The :class:`~srna_nb.atlas.Atlas` (value_kind ``counts``, ``simulated=True``) and the
        :class:`SimulationTruth` with planted markers, wrong and hidden labels.
    """
    settings = dict(locals())
    _check_settings(n_samples, n_features, n_studies, mirna_share, missing_tissue, missing_sex, missing_age, mislabel_rate)
    rng = np.random.default_rng(seed)
    tissue_table = _select_tissues(tissues)

    features = _feature_table(n_features, mirna_share, rng)
    names = features.index
    base = _base_abundance(features, rng)
    studies = _study_design(n_samples, n_studies, tissue_table, rng)
    samples = _samples(studies, tissue_table, rng)

    markers, group_effects, tissue_effects = _tissue_effects(
        features, base, tissue_table, marker_log2_fold_change, random_markers_per_tissue,
        random_markers_per_group, tissue_programme_sd, rng,
    )
    per_study = _batch_effects(features, studies, samples, study_effect_sd, library_prep_effect_sd, rng)
    sex_markers, sex_term = _sex_effects(names, samples, sex_log2_fold_change, rng)
    age_markers, age_term = _age_effects(names, samples, age_log2_change_per_decade, age_bins, rng)
    hemolysis_term = _hemolysis(names, samples, rng)

    # The samples x features matrices are built in row blocks: memory stays at about one float64
    # matrix plus the float32 counts, whatever the atlas size. Each big random draw is made block
    # after block in row order, which gives exactly the numbers one draw of the whole matrix gives.
    n_samples, n_features = len(samples), len(names)
    blocks = [slice(start, min(start + ROW_BLOCK, n_samples)) for start in range(0, n_samples, ROW_BLOCK)]
    group_idx, tissue_idx, study_idx = (samples[c].to_numpy() for c in ("_group_idx", "_tissue_idx", "_study_idx"))
    log2_mu = np.empty((n_samples, n_features))
    for rows in blocks:
        block = base[None, :] + group_effects[group_idx[rows]] + tissue_effects[tissue_idx[rows]]
        block += per_study[study_idx[rows]]
        block += sex_term.block(rows) + age_term.block(rows) + hemolysis_term.block(rows)
        log2_mu[rows] = block
    for rows in blocks:
        log2_mu[rows] += rng.normal(0.0, biological_sd, size=(rows.stop - rows.start, n_features))

    counts = _negative_binomial_counts(log2_mu, samples["_library_size"].to_numpy(), nb_shape, rng, blocks)

    truth_samples = samples[["tissue", "tissue_group", "sex", "age"]].copy()
    truth_samples["age_group"] = age_groups(truth_samples["age"], age_bins).to_numpy()
    sheet, mislabels, hidden = _observed_metadata(
        truth_samples, samples, tissue_table, missing_tissue, missing_sex, missing_age, mislabel_rate, age_bins, rng
    )
    markers = pd.concat([markers, sex_markers, age_markers], ignore_index=True)

    atlas = Atlas(
        counts=counts,
        samples=sheet,
        features=features,
        value_kind="counts",
        study_column="study",
        source=f"{SIMULATED_NOTE}, seed {seed}",
        simulated=True,
        provenance={"simulator_settings": settings},
    )
    truth = SimulationTruth(
        samples=truth_samples, markers=markers, mislabels=mislabels, hidden=hidden, settings=settings
    )
    return atlas, truth


# -- checks ------------------------------------------------------------------------------------
def _check_settings(n_samples, n_features, n_studies, mirna_share, *shares) -> None:
    if n_samples < 20:
        raise SrnaParameterError(f"n_samples must be at least 20, got {n_samples}")
    if n_features < 200:
        raise SrnaParameterError(f"n_features must be at least 200 (room for the planted markers), got {n_features}")
    if n_studies is not None and not 2 <= n_studies <= n_samples // 3:
        raise SrnaParameterError(f"n_studies must be between 2 and n_samples/3 ({n_samples // 3}), got {n_studies}")
    if not 0.5 <= mirna_share <= 1.0:
        raise SrnaParameterError(f"mirna_share must be between 0.5 and 1, got {mirna_share}")
    for share in shares:
        if not 0.0 <= share < 1.0:
            raise SrnaParameterError(f"missing and mislabel shares must be in [0, 1), got {share}")


def _select_tissues(tissues: list[str] | None) -> pd.DataFrame:
    known = {t.name: t for t in biology.TISSUES}
    chosen = list(known) if tissues is None else list(tissues)
    unknown = [t for t in chosen if t not in known]
    if unknown:
        raise SrnaParameterError(f"unknown tissue {unknown[0]!r}; known: {', '.join(known)}")
    if len(chosen) < 2:
        raise SrnaParameterError("simulate at least two tissues")
    table = pd.DataFrame(
        [(t, known[t].group, known[t].prevalence, known[t].markers, known[t].sex) for t in chosen],
        columns=["tissue", "group", "prevalence", "markers", "sex"],
    )
    table["group_idx"] = pd.factorize(table["group"])[0]
    return table


# -- features and abundance ----------------------------------------------------------------
def _feature_table(n_features: int, mirna_share: float, rng: np.random.Generator) -> pd.DataFrame:
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


def _base_abundance(features: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
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
def _study_design(n_samples: int, n_studies: int | None, tissues: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
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


def _samples(studies: pd.DataFrame, tissues: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
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


# -- effects -----------------------------------------------------------------------------------
def _tissue_effects(
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


def _batch_effects(features, studies, samples, study_sd, prep_sd, rng) -> np.ndarray:
    """Studies x features: each study's shift (its own, its library prep's, its capture of RNA classes)."""
    n_features = len(features)
    classes = pd.factorize(features["rna_class"])[0]
    study_effect = rng.normal(0.0, study_sd, (len(studies), n_features))
    prep_effect = rng.normal(0.0, prep_sd, (len(biology.LIBRARY_PREPS), n_features))
    # Size selection and adapters decide how much non-miRNA material a protocol captures.
    capture = rng.normal(0.0, 1.0, (len(studies), classes.max() + 1))
    capture[:, classes[features["rna_class"].to_numpy() == "miRNA"][0]] = 0.0
    return study_effect + prep_effect[studies["library_prep_idx"].to_numpy()] + capture[:, classes]  # per study


def _sex_effects(names, samples, fold, rng) -> tuple[pd.DataFrame, "ColumnTerm"]:
    present = [m for m in biology.X_LINKED_MIRNAS if m in names]
    folds = rng.uniform(0.5, 1.5, len(present)) * fold
    female = (samples["sex"] == "female").to_numpy()[:, None]
    term = ColumnTerm(len(names))
    term.set(names.get_indexer(present), np.where(female, folds[None, :] / 2, -folds[None, :] / 2))
    markers = pd.DataFrame(
        {"target": "sex", "label": "female", "feature": present, "log2_fold_change": folds, "source": "literature"}
    )
    return markers, term


def _age_effects(names, samples, per_decade, age_bins, rng) -> tuple[pd.DataFrame, "ColumnTerm"]:
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


def _hemolysis(names, samples, rng) -> "ColumnTerm":
    """Red-cell miRNAs leak into plasma and serum in proportion to hemolysis."""
    term = ColumnTerm(len(names))
    cell_free = samples["tissue"].isin(["plasma", "serum"]).to_numpy()
    level = rng.beta(1.2, 4.0, len(samples)) * 3.0 * cell_free
    present = [m for m in biology.HEMOLYSIS_MIRNAS if m in names]
    term.set(names.get_indexer(present), np.repeat(level[:, None], len(present), axis=1))
    return term


def _negative_binomial_counts(log2_mu, library_sizes, shape, rng, blocks) -> np.ndarray:
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


# -- metadata as it really comes -----------------------------------------------------------
def _observed_metadata(truth, samples, tissues, missing_tissue, missing_sex, missing_age, mislabel_rate, age_bins, rng):
    sheet = pd.DataFrame(index=truth.index)
    sheet["study"] = samples["study"].to_numpy()
    sheet["tissue"] = truth["tissue"].to_numpy(dtype=object)
    sheet["tissue_group"] = truth["tissue_group"].to_numpy(dtype=object)
    sheet["sex"] = truth["sex"].to_numpy(dtype=object)
    sheet["age"] = truth["age"].to_numpy(dtype=float)
    sheet["library_prep"] = samples["library_prep"].to_numpy()
    n = len(sheet)
    mislabels = []
    # Tissue mix-ups: most often a swap with another tissue of the same study, else a tissue
    # of the same group (annotation slips), else anything.
    group_of = dict(zip(tissues["tissue"], tissues["group"]))
    study_tissues = sheet.groupby("study")["tissue"].agg(lambda s: sorted(set(s)))
    for position in np.flatnonzero(rng.random(n) < mislabel_rate):
        given = sheet["tissue"].iat[position]
        options = [t for t in study_tissues[sheet["study"].iat[position]] if t != given]
        if not options or rng.random() < 0.3:
            options = [t for t in tissues["tissue"] if group_of[t] == group_of[given] and t != given]
        if not options or rng.random() < 0.3:
            options = [t for t in tissues["tissue"] if t != given]
        wrong = options[rng.integers(len(options))]
        sheet.iloc[position, sheet.columns.get_loc("tissue")] = wrong
        sheet.iloc[position, sheet.columns.get_loc("tissue_group")] = group_of[wrong]
        mislabels.append((sheet.index[position], "tissue", wrong, given))
    for position in np.flatnonzero(rng.random(n) < mislabel_rate):
        given = sheet["sex"].iat[position]
        wrong = "male" if given == "female" else "female"
        sheet.iloc[position, sheet.columns.get_loc("sex")] = wrong
        mislabels.append((sheet.index[position], "sex", wrong, given))

    hidden = []
    study_idx = samples["_study_idx"].to_numpy()
    studies_reporting = {
        "sex": _study_reports(study_idx, missing_sex, rng),
        "age": _study_reports(study_idx, missing_age, rng),
    }
    hide = {
        "tissue": rng.random(n) < missing_tissue,
        "sex": ~studies_reporting["sex"] | (rng.random(n) < 0.05),
        "age": ~studies_reporting["age"] | (rng.random(n) < 0.05),
    }
    derived = {"tissue": "tissue_group", "age": "age_group", "sex": None}
    for column, mask in hide.items():
        for hidden_column in filter(None, (column, derived[column])):
            hidden.extend((sample_id, hidden_column, truth.at[sample_id, hidden_column]) for sample_id in sheet.index[mask])
        sheet.loc[mask, column] = np.nan
        if column == "tissue":
            sheet.loc[mask, "tissue_group"] = np.nan
    sheet["age_group"] = age_groups(sheet["age"], age_bins).to_numpy()
    # Wrong labels that were then hidden are no longer wrong labels in the sheet.
    mislabels = pd.DataFrame(mislabels, columns=["sample_id", "column", "given", "true"])
    mislabels = mislabels[[sheet.at[s, c] == g for s, c, g in mislabels[["sample_id", "column", "given"]].to_numpy()]]
    hidden = pd.DataFrame(hidden, columns=["sample_id", "column", "true"])
    sheet = sheet[["study", "tissue", "tissue_group", "sex", "age", "age_group", "library_prep"]]
    return sheet, mislabels.reset_index(drop=True), hidden


def _study_reports(study_idx: np.ndarray, missing_share: float, rng) -> np.ndarray:
    """Whole studies leave a field out: pick studies until about ``missing_share`` of samples lack it."""
    studies = np.unique(study_idx)
    sizes = np.bincount(study_idx)
    order = rng.permutation(studies)
    missing_samples = np.cumsum(sizes[order])
    silent = order[missing_samples <= missing_share * len(study_idx)]
    return ~np.isin(study_idx, silent)
