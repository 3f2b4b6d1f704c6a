"""Looking inside a bundle's predictions: every class' probability, and which sRNAs drove a sample."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.augment.inputs import MIN_OVERLAP, bundle_inputs, calibrated_proba
from srna_nb.explain.gradients import sample_attributions


def _aligned(bundle, atlas: Atlas, sample_ids: Sequence[str] | None, min_overlap: float) -> tuple[np.ndarray, pd.Index]:
    """The chosen samples' classifier inputs (the bundle's preprocessing and imputation), and their ids."""
    chosen = atlas if sample_ids is None else atlas.subset(samples=np.asarray(list(sample_ids), dtype=object))
    _, Z, _ = bundle_inputs(bundle, chosen, min_overlap)
    return Z, pd.Index(chosen.samples.index, name="sample_id")


def class_probabilities(bundle, atlas: Atlas, sample_ids: Sequence[str] | None = None, min_overlap: float = MIN_OVERLAP) -> pd.DataFrame:
    """Samples x classes: calibrated probabilities (rows in ``sample_ids`` order, or all samples)."""
    Z, ids = _aligned(bundle, atlas, sample_ids, min_overlap)
    return pd.DataFrame(calibrated_proba(bundle, Z), index=ids, columns=pd.Index(bundle.pipeline.classes_, name="class"))


def sample_contributions(bundle, atlas: Atlas, sample_ids: Sequence[str], method: str = "integrated_gradients",
                         min_overlap: float = MIN_OVERLAP, **options) -> pd.DataFrame:
    """Samples x sRNAs: each sample's attributions to its predicted class (gradient methods; the DL model).

    Attributions explain the network's class scores; temperature calibration rescales all scores
    alike and leaves the predicted class and the ranking of sRNAs unchanged.
    """
    Z, ids = _aligned(bundle, atlas, sample_ids, min_overlap)
    preprocess = bundle.pipeline[:-1]
    return sample_attributions(
        bundle.pipeline[-1], Z, sample_ids=ids, method=method,
        feature_names=list(preprocess.get_feature_names_out(bundle.features)), **options,
    )
