"""The :class:`Atlas`: one expression matrix with its sample sheet and feature table, kept aligned."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from srna_nb.errors import SrnaInputError, SrnaParameterError

#: What the numbers in ``Atlas.counts`` are. Preprocessing needs to know, never guess.
VALUE_KINDS = ("counts", "rpm", "log2_rpm", "intensity", "log2_intensity")
#: Array and assay signals (Affymetrix, NanoString, HTG): not read counts, so only their order within
#: a sample carries over to sequencing data (rank / quantile inputs). ``intensity`` is linear
#: (NanoString normalised counts, 2^RMA), ``log2_intensity`` log2 (RMA, HTG log2 normalised counts).
SIGNAL_KINDS = ("intensity", "log2_intensity")


@dataclass(frozen=True, eq=False)
class Atlas:
    """Expression of small RNAs in many samples, with the samples' metadata.

    Parameters
    ----------
    counts
        Array of shape ``(n_samples, n_features)``; stored as float32.
    samples
        Sample sheet indexed by sample id, one row per row of ``counts`` in the same order.
        Missing metadata is NaN/None.
    features
        Feature table indexed by feature name, one row per column of ``counts``; has an
        ``rna_class`` column (miRNA, piRNA, snoRNA, tRF, ...).
    value_kind
        ``"counts"`` (raw read counts), ``"rpm"`` (reads per million) or ``"log2_rpm"``.
    study_column
        Column of ``samples`` that names the study (dataset) each sample came from; used to
        hold out whole studies.
    source
        Where the data came from, for reports (the simulator says ``simulated`` here).
    simulated
        True when the atlas was made by :func:`srna_nb.datasets.simulate_atlas`.
    provenance
        Free-form notes from the loader (files read, orientation assumed, samples dropped).
    """

    counts: np.ndarray
    samples: pd.DataFrame
    features: pd.DataFrame
    value_kind: str = "counts"
    study_column: str = "study"
    source: str = ""
    simulated: bool = False
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.float32)
        object.__setattr__(self, "counts", counts)
        if counts.ndim != 2:
            raise SrnaInputError(f"expression matrix must be 2-dimensional, got shape {counts.shape}")
        n_samples, n_features = counts.shape
        if len(self.samples) != n_samples:
            raise SrnaInputError(
                f"sample sheet has {len(self.samples)} rows but the matrix has {n_samples} samples"
            )
        if len(self.features) != n_features:
            raise SrnaInputError(
                f"feature table has {len(self.features)} rows but the matrix has {n_features} features"
            )
        for what, index in (("sample id", self.samples.index), ("feature name", self.features.index)):
            duplicated = index[index.duplicated()]
            if len(duplicated):
                raise SrnaInputError(f"duplicated {what} {duplicated[0]!r} ({len(duplicated)} duplicates)")
        if self.value_kind not in VALUE_KINDS:
            raise SrnaInputError(f"value_kind must be one of {VALUE_KINDS}, got {self.value_kind!r}")
        if "rna_class" not in self.features.columns:
            raise SrnaInputError("feature table needs an 'rna_class' column")

    # -- shape and names -------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        return self.counts.shape[0]

    @property
    def n_features(self) -> int:
        return self.counts.shape[1]

    @property
    def sample_ids(self) -> pd.Index:
        return self.samples.index

    @property
    def feature_names(self) -> pd.Index:
        return self.features.index

    def __repr__(self) -> str:
        kind = "simulated " if self.simulated else ""
        return (
            f"<{kind}Atlas: {self.n_samples} samples x {self.n_features} features ({self.value_kind}), "
            f"{self.samples[self.study_column].nunique() if self.study_column in self.samples else '?'} studies; "
            f"sample columns: {', '.join(map(str, self.samples.columns))}>"
        )

    # -- access ------------------------------------------------------------------------------
    def labels(self, column: str) -> pd.Series:
        """One metadata column as an object-dtype Series (missing values as NaN).

        Raises :class:`SrnaInputError` naming the available columns when ``column`` is absent.
        """
        if column not in self.samples.columns:
            raise SrnaInputError(
                f"label column {column!r} not in the sample sheet; available: "
                f"{', '.join(map(str, self.samples.columns))}"
            )
        # pandas 3 stores strings as Arrow arrays; scikit-learn indexing wants plain objects.
        values = self.samples[column]
        return pd.Series(values.to_numpy(dtype=object), index=self.samples.index, name=column).where(
            values.notna().to_numpy(), np.nan
        )

    @property
    def studies(self) -> pd.Series:
        """The study (dataset) of each sample."""
        return self.labels(self.study_column)

    def to_frame(self) -> pd.DataFrame:
        """The matrix as a DataFrame, samples in rows and features in columns."""
        return pd.DataFrame(self.counts, index=self.sample_ids, columns=self.feature_names)

    # -- AnnData ----------------------------------------------------------------------------
    def to_anndata(self):
        """The atlas as an :class:`anndata.AnnData`: samples as ``obs``, features as ``var``.

        ``X`` is the float32 matrix; ``uns["srna_nb"]`` keeps ``value_kind``, ``study_column``,
        ``source`` and ``simulated``, so that :meth:`from_anndata` gives the same atlas back.
        Needs the ``anndata`` package (which needs pandas < 3).
        """
        anndata = _import_anndata("Atlas.to_anndata")
        meta = {"value_kind": self.value_kind, "study_column": self.study_column, "source": self.source,
                "simulated": bool(self.simulated)}
        return anndata.AnnData(X=self.counts.copy(), obs=self.samples.copy(), var=self.features.copy(),
                               uns={"srna_nb": meta})

    @classmethod
    def from_anndata(cls, adata, *, layer: str | None = None, value_kind: str | None = None,
                     study_column: str | None = None, source: str = "") -> "Atlas":
        """An atlas from an :class:`anndata.AnnData` (samples as ``obs``, features as ``var``).

        Parameters
        ----------
        adata
            The AnnData object; it is not modified.
        layer
            Take the values from ``adata.layers[layer]`` (e.g. raw ``counts`` kept beside a
            normalized ``X``) instead of ``X``.
        value_kind, study_column
            What the values are and which ``obs`` column names the study. Default: what
            :meth:`to_anndata` stored in ``uns["srna_nb"]``, else ``counts`` and ``study``.
        source
            Where the data came from, for reports.
        """
        meta = dict(adata.uns.get("srna_nb", {})) if hasattr(adata, "uns") else {}
        if layer is not None and layer not in adata.layers:
            raise SrnaInputError(f"AnnData has no layer {layer!r}; layers: {', '.join(adata.layers) or 'none'}")
        values = adata.X if layer is None else adata.layers[layer]
        if values is None:
            raise SrnaInputError("AnnData has no X matrix; pass layer= to read one of its layers")
        matrix = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        samples = pd.DataFrame(adata.obs).copy()
        features = pd.DataFrame(adata.var).copy()
        samples.index = pd.Index(samples.index.astype(str), name="sample_id")
        features.index = pd.Index(features.index.astype(str), name="feature")
        for frame in (samples, features):  # categoricals (AnnData's strings) as plain values
            for column in frame.columns:
                if isinstance(frame[column].dtype, pd.CategoricalDtype):
                    frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
        if "rna_class" not in features.columns:
            from srna_nb.names import rna_class

            features["rna_class"] = [rna_class(name) or "other" for name in features.index]
        return cls(counts=matrix, samples=samples, features=features,
                   value_kind=value_kind or meta.get("value_kind", "counts"),
                   study_column=study_column or meta.get("study_column", "study"),
                   source=source or meta.get("source", ""), simulated=bool(meta.get("simulated", False)))

    def library_sizes(self) -> pd.Series:
        """Total of each sample's row (reads, when ``value_kind`` is counts)."""
        return pd.Series(self.counts.sum(axis=1, dtype=np.float64), index=self.sample_ids, name="library_size")

    def subset(
        self,
        samples: Sequence | np.ndarray | pd.Index | None = None,
        features: Sequence | np.ndarray | pd.Index | None = None,
    ) -> "Atlas":
        """A new Atlas with the chosen samples and/or features, the three parts kept aligned.

        ``samples`` and ``features`` may be boolean masks, positions, or ids/names.
        """
        rows = _positions(samples, self.sample_ids, "sample")
        cols = _positions(features, self.feature_names, "feature")
        return Atlas(
            counts=self.counts[np.ix_(rows, cols)],
            samples=self.samples.iloc[rows],
            features=self.features.iloc[cols],
            value_kind=self.value_kind,
            study_column=self.study_column,
            source=self.source,
            simulated=self.simulated,
            provenance=dict(self.provenance),
        )

    def matching(self, where) -> np.ndarray:
        """Mask of the samples whose sample-sheet columns hold one of the allowed values of ``where``
        (column -> a value or a list of values; compared as text, so ``11`` and ``"11"`` are one code)."""
        keep = np.ones(self.n_samples, dtype=bool)
        for column, allowed in (where or {}).items():
            allowed = [allowed] if isinstance(allowed, (str, int, float)) else list(allowed)
            values = self.labels(column).astype("string")  # refuses an absent column, naming those there are
            keep &= values.isin([str(value) for value in allowed]).fillna(False).to_numpy(dtype=bool)
        return keep

    def capped(self, by: str | list[str], max_per_group: int, random_state=None) -> "Atlas":
        """At most ``max_per_group`` samples of each group of the sample-sheet column(s) ``by``, drawn at
        random; samples with a missing value in ``by`` are kept, and the atlas' order is kept.

        A large atlas made the size of the others (TCGA's 9,594 primary tumours capped per organ) so
        that a study fits its time; the provenance records the cap.
        """
        columns = [by] if isinstance(by, str) else list(by)
        absent = [c for c in columns if c not in self.samples.columns]
        if absent:
            raise SrnaInputError(f"{self.source}: no sample-sheet column {absent[0]!r} to cap samples by")
        if max_per_group < 1:
            raise SrnaParameterError(f"max_per_group must be at least 1, got {max_per_group!r}")
        rng = np.random.default_rng(random_state)
        keep = np.ones(self.n_samples, dtype=bool)
        groups = self.samples[columns].reset_index(drop=True)
        for _, positions in groups.dropna().groupby(columns, sort=True).indices.items():
            if len(positions) > max_per_group:
                keep[rng.choice(positions, len(positions) - max_per_group, replace=False)] = False
        capped = self.subset(samples=keep)
        capped.provenance["capped"] = (f"at most {max_per_group} samples per {' x '.join(columns)}: "
                                       f"{int(keep.sum())} of {self.n_samples} samples")
        return capped


def _import_anndata(caller: str):
    """The ``anndata`` module, or an ImportError that says how to get it."""
    try:
        import anndata
    except ImportError:
        raise ImportError(f"{caller} needs the anndata package (pip install anndata; it requires pandas < 3)") from None
    return anndata


def _positions(selector, index: pd.Index, what: str) -> np.ndarray:
    """Integer positions for a mask, positions or labels."""
    if selector is None:
        return np.arange(len(index))
    array = np.asarray(selector)
    if array.dtype == bool:
        if array.shape != (len(index),):
            raise SrnaInputError(f"{what} mask has length {array.size}, expected {len(index)}")
        return np.flatnonzero(array)
    if array.size and np.issubdtype(array.dtype, np.integer):
        return array.astype(np.intp)
    positions = index.get_indexer(array)
    if (positions < 0).any():
        missing = array[positions < 0]
        raise SrnaInputError(f"{len(missing)} {what} id(s) not in the atlas, e.g. {missing[0]!r}")
    return positions


def concat_atlases(atlases: dict[str, "Atlas"], study_column: str = "study", min_share: float = 1.0,
                   level: str = "auto") -> "Atlas":
    """Samples of several atlases in one feature space.

    Features are matched by what they count (:func:`srna_nb.names.feature_matrix`): an atlas' rows
    add into the feature they belong to (a merged feature ``a/b`` is the sum of another atlas'
    ``a`` and ``b``; old and new names of one miRNA meet). The features are those of the first
    atlas followed by those only later atlases hold; a feature is kept when it is fully present
    in at least ``min_share`` of the atlases, and is NaN (unmeasured, not zero) in the others.
    Atlases holding different kinds of values are all converted to RPM (counts over each
    atlas' whole library). The samples get ``atlas`` (the dictionary key) and ``study_column``
    (``<atlas>:<study>``) columns; sample ids are prefixed with the atlas name where two atlases
    share one.

    Parameters
    ----------
    atlases
        Name -> Atlas, e.g. ``{"microrna_atlas": a, "mirna_tissue_atlas2": b}``.
    study_column
        Column of the result naming each sample's study, made unique across atlases.
    min_share
        Share of the atlases that must hold a feature for it to be kept: 1.0 (default) keeps
        the features every atlas holds, so the result has no missing values; 0.5 keeps those
        of at least half of them.
    level
        ``mature``: features as the atlases name them. ``family``: every feature summed into its
        hairpin family (:func:`srna_nb.names.family_names`), the level at which hairpin counts
        (TCGA's ``hsa-mir-21``) and mature counts meet; a family counts as measured in an atlas
        that holds any of its members (the sum of those it measures, as annotation sums a bundle's
        merged features), since a member a sequencing table lacks was not detected and an array
        without it still measures the family's dominant arm. ``auto`` (default): ``family`` when
        any atlas holds hairpin counts (``provenance["feature_level"]``), else ``mature``.
    """
    from srna_nb.names import family_names, feature_matrix, harmonize_names, rna_class
    from srna_nb.preprocessing import from_linear, to_linear

    if not atlases:
        raise SrnaInputError("no atlases to concatenate")
    if not 0.0 < min_share <= 1.0:
        raise SrnaInputError(f"min_share must be in (0, 1], got {min_share!r}")
    if level == "auto":
        level = "family" if any(a.provenance.get("feature_level") == "hairpin" for a in atlases.values()) else "mature"
    if level not in ("mature", "family"):
        raise SrnaParameterError(f"level must be auto, mature or family, got {level!r}")
    names = list(atlases)
    kinds = {atlas.value_kind for atlas in atlases.values()}
    value_kind = kinds.pop() if len(kinds) == 1 else "rpm"
    if level == "family":
        targets = list(dict.fromkeys(f for atlas in atlases.values() for f in family_names(list(map(str, atlas.feature_names)))))
        mapping = harmonize_names(targets)
        features = pd.DataFrame({"accession": mapping["accession"].to_numpy(),
                                 "rna_class": [rna_class(target) or "other" for target in targets], "name_status": "family"},
                                index=pd.Index(targets, name="feature"))
    else:
        # The feature space: the first atlas' features, then what later atlases add.
        targets = list(map(str, atlases[names[0]].feature_names))
        feature_rows = [atlases[names[0]].features]
        for atlas in list(atlases.values())[1:]:
            available = list(map(str, atlas.feature_names))
            weights, _ = feature_matrix(targets, available)
            new = np.flatnonzero(np.asarray(weights.sum(axis=1)).ravel() == 0)
            targets += [available[i] for i in new]
            feature_rows.append(atlas.features.iloc[new])
        features = pd.concat(feature_rows)
        features = features.loc[:, [c for c in features.columns if features[c].notna().any()]]
    blocks, present = [], []
    for atlas in atlases.values():
        weights, coverage = feature_matrix(targets, list(map(str, atlas.feature_names)))
        # Rows are summed on the linear scale (log2 values logged back), all in RPM when the kinds differ.
        linear = to_linear(atlas.counts, atlas.value_kind, to_rpm=value_kind != atlas.value_kind)
        block = from_linear(np.asarray(linear @ weights), value_kind)
        measured = coverage > 0 if level == "family" else coverage == 1.0
        block[:, ~measured] = np.nan
        blocks.append(block)
        present.append(measured)
    share = np.mean(present, axis=0)
    keep = share >= min_share - 1e-9
    sheets = []
    for name, atlas in atlases.items():
        sheet = atlas.samples.copy()
        sheet[study_column] = [f"{name}:{study}" for study in atlas.studies]
        sheet.insert(0, "atlas", name)
        sheets.append(sheet)
    samples = pd.concat(sheets)
    if samples.index.duplicated().any():
        samples.index = pd.Index([f"{sheet['atlas'].iat[0]}:{i}" for sheet in sheets for i in sheet.index], name="sample_id")
    return Atlas(
        counts=np.vstack(blocks)[:, keep].astype(np.float32),
        samples=samples,
        features=features.iloc[np.flatnonzero(keep)],
        value_kind=value_kind,
        study_column=study_column,
        source=" + ".join(names),
        provenance={"atlases": {name: atlas.source for name, atlas in atlases.items()},
                    "feature_level": level,
                    "features": f"{int(keep.sum())} of {len(targets)} features are in at least {min_share:.0%} "
                                f"of the atlases ({int((share == 1.0).sum())} in every one)",
                    "value_kind": value_kind if len(set(a.value_kind for a in atlases.values())) == 1
                    else f"converted to rpm from {', '.join(sorted(set(a.value_kind for a in atlases.values())))}"},
    )
