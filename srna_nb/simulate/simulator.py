"""The simulator's entry point: settings checked, every part drawn in a fixed order, the truth kept apart."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from srna_nb import biology
from srna_nb.atlas import Atlas
from srna_nb.errors import SrnaParameterError
from srna_nb.simulate.design import base_abundance, feature_table, sample_table, study_design
from srna_nb.simulate.effects import (
    age_effects,
    batch_effects,
    hemolysis_effects,
    negative_binomial_counts,
    plant_tissue_effects,
    sex_effects,
)
from srna_nb.simulate.metadata import observed_metadata
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

    features = feature_table(n_features, mirna_share, rng)
    names = features.index
    base = base_abundance(features, rng)
    studies = study_design(n_samples, n_studies, tissue_table, rng)
    samples = sample_table(studies, tissue_table, rng)

    markers, group_effects, tissue_effects = plant_tissue_effects(
        features, base, tissue_table, marker_log2_fold_change, random_markers_per_tissue,
        random_markers_per_group, tissue_programme_sd, rng,
    )
    per_study = batch_effects(features, studies, samples, study_effect_sd, library_prep_effect_sd, rng)
    sex_markers, sex_term = sex_effects(names, samples, sex_log2_fold_change, rng)
    age_markers, age_term = age_effects(names, samples, age_log2_change_per_decade, age_bins, rng)
    hemolysis_term = hemolysis_effects(names, samples, rng)

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

    counts = negative_binomial_counts(log2_mu, samples["_library_size"].to_numpy(), nb_shape, rng, blocks)

    truth_samples = samples[["tissue", "tissue_group", "sex", "age"]].copy()
    truth_samples["age_group"] = age_groups(truth_samples["age"], age_bins).to_numpy()
    sheet, mislabels, hidden = observed_metadata(
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
