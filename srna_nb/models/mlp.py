"""Multilayer perceptrons with a scikit-learn interface: one fit loop, a classifier and a regressor on it.

:class:`MLPEstimator` holds what both share: the seed, the inner validation split (a hook),
early stopping with ``min_steps``, building and training the network, the history, chunked
prediction, the exact rank-one permutation path and pickling. :class:`DLClassifier` adds class
weights, mixup and refit; :class:`DLRegressor` standardizes its target. A change of early
stopping or batching is made once, in :meth:`MLPEstimator._fit_network`.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from srna_nb.errors import SrnaParameterError, validate_params
from srna_nb.models.network import (
    affine_maps,
    build_network,
    early_stopping,
    iter_permuted_outputs,
    network_from_bytes,
    network_to_bytes,
    predict_in_chunks,
    random_validation_split,
    seed_of,
    shuffled_batches_class,
    stratified_validation_split,
    warn_no_early_stopping,
)

#: Parameters of every MLP (see :class:`DLClassifier` for their meaning).
MLP_CONSTRAINTS: dict = {
    "hidden_layers": ["array-like"],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "input_dropout": [Interval(Real, 0, 1, closed="left")],
    "batch_norm": ["boolean"],
    "l2": [Interval(Real, 0, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
    "max_epochs": [Interval(Integral, 1, None, closed="left")],
    "patience": [Interval(Integral, 0, None, closed="left")],
    "min_steps": [Interval(Integral, 0, None, closed="left")],
    "validation_share": [Interval(Real, 0, 1, closed="left")],
    "random_state": ["random_state", np.random.Generator],
    "verbose": ["verbose"],
}


class MLPEstimator(BaseEstimator):
    """The fit loop, prediction and pickling shared by :class:`DLClassifier` and :class:`DLRegressor`.

    Subclasses say how many outputs and which loss (:meth:`_output`), which training rows early
    stopping watches (:meth:`_validation_rows`) and what the minibatches are (:meth:`_batches`).
    """

    _parameter_constraints: dict = MLP_CONSTRAINTS

    def _fit_network(self, X: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """Train ``model_`` on ``X`` and ``targets`` with early stopping; returns the validation rows used."""
        self._seed = seed_of(self.random_state)
        train, validation = self._validation_rows(targets)
        self.early_stopping_ = bool(len(validation))
        if self.validation_share and not self.early_stopping_:
            warn_no_early_stopping(self, len(targets))
        stopping, validation_data = None, None
        if self.early_stopping_:
            stopping = early_stopping(self, len(train))
            validation_data = (X[validation], targets[validation])
        history = self._train(X[train], targets[train], self.max_epochs, validation_data, [stopping] if stopping else [])
        self.n_epochs_ = len(history.epoch)
        self.best_epochs_ = stopping.best_epoch + 1 if stopping is not None else self.n_epochs_
        return validation

    def _train(self, X: np.ndarray, targets: np.ndarray, epochs: int, validation_data, callbacks):
        """A fresh, seeded network trained on these rows for at most ``epochs``; returns the Keras history."""
        n_outputs, activation, loss = self._output()
        self.model_ = build_network(self, X.shape[1], n_outputs, activation, loss)
        batches, class_weight, validation_data = self._batches(X, targets, validation_data)
        return self.model_.fit(
            batches, validation_data=validation_data, epochs=epochs, class_weight=class_weight,
            callbacks=callbacks, verbose=self.verbose, shuffle=False,  # the batches shuffle themselves
        )

    def _batches(self, X: np.ndarray, targets: np.ndarray, validation_data):
        """``(minibatches, Keras class weights, validation data)`` for one training run."""
        return shuffled_batches_class()(X, targets, self.batch_size, self._seed), None, validation_data

    def _inputs(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        return validate_data(self, X, dtype=np.float32, reset=False)

    def _network_outputs(self, X) -> np.ndarray:
        X = self._inputs(X)  # first: it says when the estimator is not fitted
        return predict_in_chunks(self.model_, X)

    def _iter_permuted_outputs(self, X, permutations: np.ndarray, block: int):
        X = self._inputs(X)
        yield from iter_permuted_outputs(self.model_, X, permutations, block)

    def _affine_maps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        check_is_fitted(self, "model_")
        return affine_maps(self.model_)

    def __getstate__(self) -> dict:
        """Pickle support (joblib workers, copies): the network travels as ``.keras`` bytes."""
        state = self.__dict__.copy()
        if "model_" in state:
            state["model_"] = network_to_bytes(state["model_"])
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("model_"), bytes):
            state["model_"] = network_from_bytes(state["model_"])
        if "model_" in state:
            # Saved before these parameters existed: the network was trained without them.
            for name in ("mixup", "min_steps"):
                if name in type(self)._parameter_constraints:
                    state.setdefault(name, 0)
        self.__dict__.update(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


class DLClassifier(ClassifierMixin, MLPEstimator):
    """A multilayer perceptron (Keras 3, any backend) with a scikit-learn interface.

    Dense ReLU layers with dropout (and optional batch normalization), softmax output, Adam,
    early stopping on an inner validation split drawn from the training data only, balanced
    class weights, seeded.

    Parameters
    ----------
    hidden_layers
        Units of each hidden layer.
    dropout
        Dropout rate after each hidden layer.
    input_dropout
        Dropout rate on the inputs (randomly silences sRNAs: robustness to detection dropouts).
    batch_norm
        Batch normalization before each activation.
    l2
        L2 weight penalty of the dense layers.
    learning_rate, batch_size
        Adam step size and minibatch size.
    max_epochs, patience
        Training stops when the validation loss has not improved for ``patience`` epochs;
        the best weights are kept. ``max_epochs`` caps training in every case.
    min_steps
        Optimizer steps (minibatches) trained before early stopping may end training, so that a
        small training set, with few minibatches per epoch (188 samples make 2 at the default
        batch size), is not stopped after a few dozen updates by a noisy validation loss. 0:
        early stopping watches from the first epoch. With 400 and mixup (the defaults), DL
        overtook the linear model on held-out real studies (``docs/design.md``).
    validation_share
        Share of the training samples held back (stratified) for early stopping.
    refit
        After early stopping has picked the number of epochs on the inner split, train a fresh
        network on all training samples for that many epochs (the held-back samples then count
        too). Off by default; measured in ``docs/design.md``.
    class_weight
        ``"balanced"`` (weights inverse to class frequency) or None.
    mixup
        Mixup's Beta(``mixup``, ``mixup``) parameter: each training sample is blended with another
        of its minibatch (usually of another study), and the loss is blended alike. 0 trains on
        the samples as they are; 0.2 (the default) won on the real benchmark (``docs/design.md``).
    random_state
        Seed of weights, dropout, shuffling and the validation split: an int (repeatable fits),
        None (fresh randomness) or a ``numpy.random.Generator`` / ``RandomState`` (a seed drawn
        from it). Never touches global random state.
    verbose
        Keras' own progress output (0: none).

    Attributes
    ----------
    classes_ : ndarray
        Class labels, in the order of ``predict_proba``'s columns.
    model_ : keras.Model
        The trained network.
    early_stopping_ : bool
        Whether early stopping ran (False when ``validation_share`` is 0, or leaves no rows: then
        a warning says so and ``max_epochs`` are trained).
    n_epochs_ : int
        Epochs trained before early stopping.
    best_epochs_ : int
        Epochs of the kept weights (with ``refit``: of the final network).
    """

    _parameter_constraints: dict = MLP_CONSTRAINTS | {
        "refit": ["boolean"],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "mixup": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        hidden_layers: Sequence[int] = (256, 128),
        dropout: float = 0.5,
        input_dropout: float = 0.2,
        batch_norm: bool = False,
        l2: float = 1e-4,
        learning_rate: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 300,
        patience: int = 10,
        min_steps: int = 400,
        validation_share: float = 0.1,
        refit: bool = False,
        class_weight: str | None = "balanced",
        mixup: float = 0.2,
        random_state: int | np.random.Generator | np.random.RandomState | None = 0,
        verbose: int = 0,
    ):
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.batch_norm = batch_norm
        self.l2 = l2
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_steps = min_steps
        self.validation_share = validation_share
        self.refit = refit
        self.class_weight = class_weight
        self.mixup = mixup
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y):
        validate_params(self)
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        if len(y) < 2:
            raise SrnaParameterError(f"DLClassifier needs at least 2 samples, got n_samples = {len(y)}")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise SrnaParameterError(f"DLClassifier needs at least two classes, got {len(self.classes_)}")
        validation = self._fit_network(X, encoded)
        if self.refit and len(validation):
            self._train(X, encoded, self.best_epochs_, None, [])
        return self

    def _validation_rows(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return stratified_validation_split(encoded, self.validation_share, self._seed)

    def _output(self) -> tuple[int, str, str]:
        # Mixup trains on soft targets (see ShuffledBatches); without it the labels stay integers.
        return len(self.classes_), "softmax", "categorical_crossentropy" if self.mixup else "sparse_categorical_crossentropy"

    def _batches(self, X: np.ndarray, encoded: np.ndarray, validation_data):
        """Balanced class weights from these rows: as Keras class weights, or inside mixup's blends."""
        weights = None
        if self.class_weight is not None:
            present = np.unique(encoded)
            given = compute_class_weight(self.class_weight, classes=self.classes_[present], y=self.classes_[encoded])
            weights = {int(c): float(w) for c, w in zip(present, given)}
        if not self.mixup:
            return shuffled_batches_class()(X, encoded, self.batch_size, self._seed), weights, validation_data
        # Blended samples carry soft targets and their class weights as sample weights (see ShuffledBatches).
        per_class = np.ones(len(self.classes_), dtype=np.float32)
        for c, w in (weights or {}).items():
            per_class[c] = w
        batches = shuffled_batches_class()(X, encoded, self.batch_size, self._seed, mixup=self.mixup, class_weights=per_class)
        if validation_data is not None:
            validation_data = (validation_data[0], np.eye(len(self.classes_), dtype=np.float32)[validation_data[1]])
        return batches, None, validation_data

    def predict_proba(self, X) -> np.ndarray:
        return self._network_outputs(X)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def iter_permuted_proba(self, X, permutations: np.ndarray, block: int = 32):
        """Class probabilities with one column at a time replaced by a permutation of its rows.

        Exact and fast: permuting column ``j`` changes the first dense layer's pre-activations by
        the rank-one term ``(X[perm, j] - X[:, j]) * W1[j]``, so the first layer (most of the
        arithmetic) is computed once and only the layers after it run per permuted column,
        ``block`` columns per compiled call. Input dropout is inactive at prediction.

        Parameters
        ----------
        X
            Model inputs, shape (n_samples, n_features).
        permutations
            Integer array (n_repeats, n_features, n_samples): row order of each column in each repeat.

        Yields
        ------
        (repeat, column, probabilities) for every repeat and column, in order.
        """
        yield from self._iter_permuted_outputs(X, permutations, block)

    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The trained network as affine maps ``(kernel, bias)`` in float64, ReLU between them.

        Inference-time view: dropout is the identity and batch normalization is folded into the
        preceding dense layer. The last map gives the logits (softmax input). Used by the
        gradient-based attributions of :mod:`srna_nb.explain.gradients`.
        """
        return self._affine_maps()


class DLRegressor(RegressorMixin, MLPEstimator):
    """The MLP of :class:`DLClassifier` with one linear output: a number (age in years) per sample.

    The target is standardized on the training rows (mean and SD kept in ``y_mean_`` /
    ``y_scale_``), the loss is Huber on the standardized scale (robust to a few wrong ages), and
    early stopping watches a random inner validation split of the training rows. Parameters are
    those of :class:`DLClassifier` without the class weights, refit and mixup, with the same
    ``min_steps=400`` and ``max_epochs=300``: on every row of ``benchmarks/age_regression.py`` they
    lowered DL's MAE (serum 21.9 -> 14.0 years; docs/design.md).

    Attributes
    ----------
    model_ : keras.Model
        The trained network.
    y_mean_, y_scale_ : float
        Training mean and standard deviation of the target.
    early_stopping_ : bool
        Whether early stopping ran.
    n_epochs_, best_epochs_ : int
        Epochs trained, and epochs of the kept weights.
    """

    _parameter_constraints: dict = MLP_CONSTRAINTS | {"loss": [StrOptions({"huber", "mean_squared_error"})]}

    def __init__(
        self,
        hidden_layers: Sequence[int] = (256, 128),
        dropout: float = 0.5,
        input_dropout: float = 0.2,
        batch_norm: bool = False,
        l2: float = 1e-4,
        learning_rate: float = 1e-3,
        batch_size: int = 128,
        max_epochs: int = 300,
        patience: int = 10,
        min_steps: int = 400,
        validation_share: float = 0.1,
        loss: str = "huber",
        random_state: int | np.random.Generator | np.random.RandomState | None = 0,
        verbose: int = 0,
    ):
        self.hidden_layers = hidden_layers
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.batch_norm = batch_norm
        self.l2 = l2
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_steps = min_steps
        self.validation_share = validation_share
        self.loss = loss
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y):
        validate_params(self)
        X, y = validate_data(self, X, y, dtype=np.float32, y_numeric=True)
        if len(y) < 2:
            raise SrnaParameterError(f"DLRegressor needs at least 2 samples, got n_samples = {len(y)}")
        self.y_mean_ = float(np.mean(y))
        self.y_scale_ = float(np.std(y)) or 1.0
        self._fit_network(X, ((y - self.y_mean_) / self.y_scale_).astype(np.float32))
        return self

    def _validation_rows(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return random_validation_split(len(scaled), self.validation_share, self._seed)

    def _output(self) -> tuple[int, None, str]:
        return 1, None, self.loss

    def predict(self, X) -> np.ndarray:
        return self._network_outputs(X)[:, 0] * self.y_scale_ + self.y_mean_

    def iter_permuted_predictions(self, X, permutations: np.ndarray, block: int = 32):
        """Predictions with one column at a time permuted (exact rank-one shortcut of
        :meth:`DLClassifier.iter_permuted_proba`); yields (repeat, column, predictions)."""
        for repeat, column, outputs in self._iter_permuted_outputs(X, permutations, block):
            yield repeat, column, outputs[:, 0] * self.y_scale_ + self.y_mean_

    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The network as float64 affine maps with ReLU between them; the last map gives the prediction in
        the target's own units (the standardization folded in), for :mod:`srna_nb.explain.gradients`."""
        *hidden, (kernel, bias) = self._affine_maps()
        return [*hidden, (kernel * self.y_scale_, bias * self.y_scale_ + self.y_mean_)]
