"""How well augmentation works, measured against the simulator's ground truth.

The simulated atlas knows which labels it removed (``truth.hidden``), which it planted wrong
(``truth.mislabels``), and every sample's true metadata; real data has none of this.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from srna_nb.atlas import Atlas
from srna_nb.augment.annotate import annotate, set_covers
from srna_nb.augment.train import train_bundle
from srna_nb.targets import TargetSelection


def hidden_label_recovery(table: pd.DataFrame, truth, target: str) -> dict[str, float]:
    """Confident predictions on samples whose label the simulator removed, scored against the removed label."""
    hidden = truth.hidden[truth.hidden["column"] == target].set_index("sample_id")["true"]
    part = table[table["sample_id"].isin(hidden.index)]
    true = hidden.reindex(part["sample_id"]).to_numpy()
    confident = (part["status"] == "confident").to_numpy()
    group = (part["annotation_level"] == "group").to_numpy()
    scores = {
        "samples": int(len(part)),
        "confident share": float(confident.mean()) if len(part) else np.nan,
        "uncertain share": float((part["status"] == "uncertain").mean()) if len(part) else np.nan,
        "unknown share": float((part["status"] == "unknown").mean()) if len(part) else np.nan,
        "accuracy of confident predictions": float((part["predicted"].to_numpy()[confident] == true[confident]).mean()) if confident.any() else np.nan,
        "accuracy of all predictions": float((part["predicted"].to_numpy() == true).mean()) if len(part) else np.nan,
        "group fallbacks": int(group.sum()),
    }
    if "prediction_set" in part:
        scores["prediction-set coverage"] = float(set_covers(part["prediction_set"], true).mean()) if len(part) else np.nan
        scores["mean prediction-set size"] = float(part["set_size"].mean()) if len(part) else np.nan
    if group.any() and target == "tissue":
        true_group = truth.samples["tissue_group"].reindex(part["sample_id"]).to_numpy()
        scores["accuracy of group fallbacks"] = float((part["annotation"].to_numpy()[group] == true_group[group]).mean())
    return scores


def mislabel_detection(table: pd.DataFrame, truth, target: str) -> dict[str, float]:
    """Precision and recall of conflict flags against the labels the simulator planted wrong.

    Only planted mislabels among the table's samples count (a sample whose class was dropped
    from training cannot be checked).
    """
    planted = set(truth.mislabels.loc[truth.mislabels["column"] == target, "sample_id"]) & set(table["sample_id"])
    flagged = set(table.loc[table["conflict"], "sample_id"])
    hits = len(planted & flagged)
    return {
        "planted mislabels": len(planted), "flagged": len(flagged), "flagged and planted": hits,
        "precision": hits / len(flagged) if flagged else np.nan, "recall": hits / len(planted) if planted else np.nan,
    }


def unseen_class_check(atlas: Atlas, target: str | TargetSelection, label: str, **train_options) -> dict[str, float]:
    """Train without any sample of ``label``, then annotate those samples: how many come back ``unknown``?

    ``target`` is a column or a :class:`~srna_nb.targets.TargetSelection`; ``train_options`` go
    to :func:`~srna_nb.augment.train_bundle`. Also reports the unknown share of in-distribution samples from held-out studies (the
    bundle's out-of-fold annotations), the rate the novelty thresholds were set for.
    """
    selection = TargetSelection.of(target, min_studies=2)
    labels = atlas.samples[selection.target]
    without = atlas.subset(samples=(labels != label).to_numpy() & labels.notna().to_numpy())
    bundle = train_bundle(without, selection, **{"progress": False, **train_options})
    held_back = annotate(bundle, atlas.subset(samples=(labels == label).to_numpy())).table
    return {
        "class": label, "samples": int(len(held_back)),
        "unknown share": float((held_back["status"] == "unknown").mean()),
        "confident share": float((held_back["status"] == "confident").mean()),
        "most often predicted as": held_back["predicted"].mode().iat[0],
        "in-distribution unknown share": float((bundle.out_of_fold["status"] == "unknown").mean()),
    }


def key_figures(bundle, annotation, truth=None) -> dict[str, object]:
    """Headline numbers of an augmentation report for the index."""
    counts = annotation.status_counts()["share"]
    figures = {
        "held-out accuracy": bundle.summary.accuracy,
        "ECE before / after calibration": f"{bundle.summary.ece_before:.3f} / {bundle.summary.ece_after:.3f}",
        "held-out prediction-set coverage / mean size": None if bundle.summary.held_out_set_coverage is None else
        f"{bundle.summary.held_out_set_coverage:.3f} / {bundle.summary.mean_set_size:.2f} (nominal {bundle.summary.set_coverage:.0%})",
        "annotated samples": f"{len(annotation.table)} ({', '.join(f'{s} {v:.0%}' for s, v in counts.items())})",
        "conflicts among training labels": len(bundle.conflicts()),
    }
    if truth is not None:
        hidden = hidden_label_recovery(annotation.table, truth, bundle.target)
        figures["hidden labels: accuracy of confident"] = hidden["accuracy of confident predictions"]
        if "prediction-set coverage" in hidden:
            figures["hidden labels: prediction-set coverage"] = hidden["prediction-set coverage"]
        planted = mislabel_detection(bundle.out_of_fold, truth, bundle.target)
        figures["planted mislabels: precision / recall"] = f"{planted['precision']:.3f} / {planted['recall']:.3f}"
    return {k: v for k, v in figures.items() if v is not None}
