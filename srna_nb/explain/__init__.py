"""Explanations: which sRNAs drive a model's predictions.

- :mod:`~srna_nb.explain.permutation`: permutation importance (eli5's meaning, with exact fast
  paths for the MLP and the random forest), overall and per class.
- :mod:`~srna_nb.explain.gradients`: integrated gradients, DeepLIFT (rescale) and gradient x
  input for the MLP, against a documented baseline profile.
- :mod:`~srna_nb.explain.compare`: top sRNAs, agreement between methods, marker precision.
- :mod:`~srna_nb.explain.study`: all of it for a set of models on held-out studies.
"""

from srna_nb.explain.compare import marker_precision, method_agreement, top_features
from srna_nb.explain.gradients import attributions, class_attributions, completeness_gap, sample_attributions
from srna_nb.explain.permutation import ALL_CLASSES, permutation_importance, shuffle_orders
from srna_nb.explain.study import ImportanceStudy, importance_study

__all__ = [
    "ALL_CLASSES", "ImportanceStudy", "attributions", "class_attributions", "completeness_gap", "importance_study",
    "marker_precision", "method_agreement", "permutation_importance", "sample_attributions", "shuffle_orders", "top_features",
]
