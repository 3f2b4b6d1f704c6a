"""How much a bundle's model relies on each input sRNA: the weights of its coverage gate.

A new matrix that lacks some of a bundle's sRNAs is annotated only where the sRNAs it holds carry
at least ``min_coverage`` of the model's reliance (otherwise the status is ``low_coverage``). The
reliance on an sRNA is the mean absolute contribution of its input to the prediction over the
training samples: gradient x input at the classifier's input, whose zero is the average training
profile (the preprocessors centre every sRNA). What is explained is the predicted class's centred
logit (:mod:`srna_nb.explain.gradients`), or the predicted number of a regressor. For a linear
model that is ``x * (w_c - mean_k w_k)``; for the MLP, :func:`srna_nb.explain.gradients.attributions`
(``gradient_x_input``); the random forest keeps its impurity importance, already a measure over the
training samples.

Weights alone (first-layer norms of the MLP, coefficients of a linear model) ignore how much an
input varies: an MLP's norms stay near their random start for inputs it learnt little from,
which spread its reliance evenly over all of them; with a serum study held out, the 361 of 776
sRNAs the serum matrix holds carried 47% of an MLP by its norms (below the 0.5 gate, so every
sample was ``low_coverage``) and 71% by gradient x input (docs/design.md).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.pipeline import Pipeline

from srna_nb.explain.gradients import attributions, regression_attributions


def input_reliance(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """Share of a fitted pipeline's reliance on each of its input features (0 for filtered-out ones).

    Parameters
    ----------
    pipeline
        A fitted bundle pipeline (preprocessor, then classifier or regressor).
    X
        The training values the pipeline was fitted on, shape (n_samples, n_features).

    Returns
    -------
    Array (n_features,) of non-negative shares summing to 1 (all zero if the model uses no input).
    """
    model = pipeline[-1]
    if hasattr(model, "feature_importances_"):
        weights = np.asarray(model.feature_importances_, dtype=np.float64)
    else:
        Z = np.asarray(pipeline[:-1].transform(X), dtype=np.float64)
        weights = np.abs(_contributions(model, Z)).mean(axis=0)
    reliance = np.zeros(X.shape[1])
    reliance[pipeline[0].named_steps["detected"].support_] = weights
    total = reliance.sum()
    return reliance / total if total > 0 else reliance


def _contributions(model, Z: np.ndarray) -> np.ndarray:
    """Gradient x input of each sample's explained score (see the module docstring)."""
    if hasattr(model, "coef_"):
        coef = np.atleast_2d(model.coef_)
        if coef.shape[0] == 1:  # a regressor, or a two-class logistic model: one score
            return Z * coef[0]
        centred = coef - coef.mean(axis=0)
        return Z * centred[np.argmax(model.decision_function(Z), axis=1)]
    if is_classifier(model):
        return attributions(model, Z, np.argmax(model.predict_proba(Z), axis=1), method="gradient_x_input")
    return regression_attributions(model, Z, method="gradient_x_input")
