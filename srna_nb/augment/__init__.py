"""Metadata augmentation: fill in missing labels with calibrated confidence, abstain, flag conflicts.

- :func:`train_bundle`: fit, calibrate and set abstention thresholds on held-out studies.
- :func:`save_bundle` / :func:`load_bundle`: safe on-disk bundles (skops, .keras, JSON + checksums).
- :func:`annotate`: apply a bundle to new samples (names harmonized, any value scale, coverage
  first), statuses and conflicts.
- :func:`leave_one_atlas_out`: train on all atlases but one, score the one held out, each in turn.
- :func:`list_models` / :func:`load_model`: the pre-trained models shipped with the package.
- :func:`class_probabilities` / :func:`sample_contributions`: every class' probability, and the
  sRNAs that drove one sample's prediction.
- :mod:`~srna_nb.augment.measure`: on simulated data, how well hidden, wrong and unseen labels are handled.
"""

from srna_nb.augment.annotate import STATUSES, Annotation, annotate, samples_to_annotate
from srna_nb.augment.inputs import FeatureOverlap, align_features
from srna_nb.augment.inspect import class_probabilities, sample_contributions
from srna_nb.augment.pretrained import list_models, load_model, model_card
from srna_nb.augment.bundle import TRUSTED_TYPES, Bundle, HeldOutSummary, load_bundle, save_bundle
from srna_nb.augment.train import train_bundle
from srna_nb.augment.atlas_out import LeaveOneAtlasOutStudy, leave_one_atlas_out, score_held_out

__all__ = [
    "STATUSES", "TRUSTED_TYPES", "Annotation", "Bundle", "FeatureOverlap", "HeldOutSummary", "LeaveOneAtlasOutStudy",
    "align_features", "annotate", "leave_one_atlas_out", "score_held_out",
    "class_probabilities", "list_models", "load_bundle", "load_model", "model_card", "sample_contributions", "samples_to_annotate", "save_bundle", "train_bundle",
]
