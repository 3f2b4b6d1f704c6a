"""Classifiers and regressors as scikit-learn estimators: a Keras MLP, a random forest, a linear baseline.

The package is split by responsibility: :mod:`~srna_nb.models.network` (the Keras network, its
batches and early stopping), :mod:`~srna_nb.models.mlp` (one MLP fit loop under
:class:`DLClassifier` and :class:`DLRegressor`), :mod:`~srna_nb.models.forest`,
:mod:`~srna_nb.models.linear` and :mod:`~srna_nb.models.registry` (model names, pipelines,
storing networks apart). Everything public is importable from here.
"""

from srna_nb.models.forest import RFClassifier, RFRegressor
from srna_nb.models.linear import linear_classifier, linear_regressor
from srna_nb.models.mlp import DLClassifier, DLRegressor, MLPEstimator
from srna_nb.models.network import PREDICTION_CHUNK, predict_in_chunks
from srna_nb.models.registry import (
    DEFAULT_SCALING,
    MODELS,
    REGRESSORS,
    attach_networks,
    detach_networks,
    make_model,
    make_models,
    model_spec,
)

# Saved bundles (skops) and pickles name classes by module: they keep the path of the single
# module these classes lived in before the split, so that models saved by any version load.
for _estimator in (DLClassifier, DLRegressor, MLPEstimator, RFClassifier, RFRegressor):
    _estimator.__module__ = __name__
del _estimator

__all__ = [
    "DEFAULT_SCALING", "DLClassifier", "DLRegressor", "MLPEstimator", "MODELS", "PREDICTION_CHUNK", "REGRESSORS",
    "RFClassifier", "RFRegressor", "attach_networks", "detach_networks", "linear_classifier",
    "linear_regressor", "make_model", "make_models", "model_spec", "predict_in_chunks",
]
