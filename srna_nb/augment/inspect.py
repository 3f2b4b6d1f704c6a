"""Looking inside a bundle's predictions: every class' probability, and which sRNAs drove a sample."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.augment.annotate import align_features, calibrated_proba, check_input_scale
from srna_nb.explain.gradients import sample_attributions


def _aligned(bundle, atlas: Atlas, sample_ids: Sequence[str] | None, min_overlap: float) -> tuple[np.ndarray, pd.Index]:
    """The chosen samples' values in the bundle's feature order, and their ids."""
    check_input_scale(bundle, atlas)
    chosen = atlas if sample_ids is None else atlas.subset(samples=np.asarray(list(sample_ids), dtype=object))
    X, _ = align_features(chosen, bundle.features, min_overlap)
    return X, pd.Index(chosen.samples.index, name="sample_id")


def class_probabilities(bundle, atlas: Atlas, sample_ids: Sequence[str] | None = None, min_overlap: float = 0.5) -> pd.DataFrame:
    """Samples x classes: calibrated probabilities (rows in ``sample_ids`` order, or all samples)."""
    X, ids = _aligned(bundle, atlas, sample_ids, min_overlap)
    return pd.DataFrame(calibrated_proba(bundle, X), index=ids, columns=pd.Index(bundle.pipeline.classes_, name="class"))


def sample_contributions(bundle, atlas: Atlas, sample_ids: Sequence[str], method: str = "integrated_gradients",
                         min_overlap: float = 0.5, **options) -> pd.DataFrame:
    """Samples x sRNAs: each sample's attributions to its predicted class (gradient methods; the DL model).

    Attributions explain the network's class scores; temperature calibration rescales all scores
    alike and leaves the predicted class and the ranking of sRNAs unchanged.
    """
    X, ids = _aligned(bundle, atlas, sample_ids, min_overlap)
    preprocess = bundle.pipeline[:-1]
    return sample_attributions(
        bundle.pipeline[-1], preprocess.transform(X), sample_ids=ids, method=method,
        feature_names=list(preprocess.get_feature_names_out(bundle.features)), **options,
    )
