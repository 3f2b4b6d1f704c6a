"""Which models exist and how pipelines of them are made, stored and inspected.

Every model sits behind one preprocessing chain (:func:`srna_nb.preprocessing.make_preprocessor`)
inside a :class:`~sklearn.pipeline.Pipeline` built by :func:`make_model`, so every statistic is
fitted on training samples only. Hyperparameters come from parameter files (``models:`` in YAML).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Mapping

from sklearn.pipeline import Pipeline

from srna_nb.errors import SrnaParameterError
from srna_nb.models.forest import RFClassifier, RFRegressor
from srna_nb.models.linear import linear_classifier, linear_regressor
from srna_nb.models.mlp import DLClassifier, DLRegressor, MLPEstimator
from srna_nb.preprocessing import make_preprocessor

#: Model names accepted in parameter files, with their constructors.
MODELS = {"dl": DLClassifier, "rf": RFClassifier, "linear": linear_classifier}
#: Regressor names accepted in parameter files, with their constructors.
REGRESSORS = {"dl": DLRegressor, "rf": RFRegressor, "linear": linear_regressor}
#: The preprocessing's last step (:data:`srna_nb.preprocessing.SCALINGS`) unless ``params`` names one.
#: Classifiers quantile-normalize each sample: it won on held-out studies and, by far, across
#: pipelines (docs/design.md, 2026-12-02). Regressors keep centring: for age,
#: quantiles won on some rows and lost on others (the same entry).
DEFAULT_SCALING = {"classifier": "quantile", "regressor": "center"}


def model_spec(label: str, params: Mapping[str, Any] | None = None) -> tuple[str, dict]:
    """``(model name, hyperparameters)`` of a labelled model variant.

    Comparisons name variants by label, e.g. ``{"dl-standard": {"model": "dl", "scaling": "standard"}}``:
    the ``model`` entry names the model, and without it the label does.
    """
    params = dict(params or {})
    return params.pop("model", label), params


def make_model(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    regression: bool = False,
    input_scale: str = "counts",
    min_share: float = 0.01,
    seed: int | None = None,
) -> Pipeline:
    """A preprocessing + classifier (or, with ``regression``, regressor) pipeline by model name.

    Parameters
    ----------
    name
        ``dl``, ``rf`` or ``linear``.
    params
        Hyperparameters of the model (as in the ``models:`` section of a parameter file),
        plus ``scaling`` (``quantile``, ``center`` or ``standard``; default :data:`DEFAULT_SCALING`)
        for the preprocessing's last steps.
    regression
        A regressor of :data:`REGRESSORS` for a numeric target instead of a classifier of :data:`MODELS`.
    input_scale, min_share
        Passed to :func:`~srna_nb.preprocessing.make_preprocessor`.
    seed
        Sets the model's ``random_state`` unless ``params`` does (models without one, ridge, take none).
    """
    registry, kind = (REGRESSORS, "regressor") if regression else (MODELS, "model")
    if name not in registry:
        raise SrnaParameterError(f"unknown {kind} {name!r}; choose from {', '.join(registry)}")
    params = dict(params or {})
    scaling = params.pop("scaling", DEFAULT_SCALING["regressor" if regression else "classifier"])
    if "hidden_layers" in params:
        params["hidden_layers"] = tuple(params["hidden_layers"])
    if seed is not None and "random_state" in inspect.signature(registry[name]).parameters:
        params.setdefault("random_state", seed)
    try:
        model = registry[name](**params)
    except TypeError as error:
        raise SrnaParameterError(f"{kind} {name!r}: {error}") from None
    return Pipeline([("preprocess", make_preprocessor(input_scale, min_share=min_share, scaling=scaling)), ("model", model)])


def make_models(
    models: Mapping[str, Mapping[str, Any] | None],
    *,
    regression: bool = False,
    input_scale: str = "counts",
    min_share: float = 0.01,
    seed: int | None = None,
) -> dict[str, Pipeline]:
    """Pipelines by label, as the ``models:`` section of a parameter file names them.

    ``{"dl": {}, "rf": {"n_estimators": 200}}`` gives ``{"dl": Pipeline, "rf": Pipeline}``; a
    label may name another model through a ``model`` entry (see :func:`model_spec`). The other
    arguments go to :func:`make_model` for every model.
    """
    return {label: make_model(*model_spec(label, params), regression=regression, input_scale=input_scale,
                              min_share=min_share, seed=seed)
            for label, params in models.items()}

def detach_networks(pipeline: Pipeline) -> tuple[Pipeline, dict]:
    """A copy of a fitted pipeline without its Keras networks, and the networks by step name.

    Keras models are saved in their own ``.keras`` format; everything else in the copy is plain
    scikit-learn state that :mod:`skops` can store safely.
    """
    steps, networks = [], {}
    for name, step in pipeline.steps:
        if isinstance(step, MLPEstimator) and hasattr(step, "model_"):
            networks[name] = step.model_
            step = copy.copy(step)
            del step.model_
        steps.append((name, step))
    return Pipeline(steps), networks


def attach_networks(pipeline: Pipeline, networks: dict) -> Pipeline:
    """Put networks detached by :func:`detach_networks` back in place."""
    for name, network in networks.items():
        pipeline.named_steps[name].model_ = network
    return pipeline

