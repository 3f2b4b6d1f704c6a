"""Classifiers as scikit-learn estimators: a Keras MLP, a random forest, a linear baseline.

All three share one preprocessing chain (:func:`srna_nb.preprocessing.make_preprocessor`) inside
a :class:`~sklearn.pipeline.Pipeline` built by :func:`make_model`, so every statistic is fitted
on training samples only. Hyperparameters come from parameter files (``models:`` in YAML).
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings
from numbers import Integral, Real
from functools import lru_cache
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from srna_nb.errors import SrnaParameterError, validate_params
from srna_nb.preprocessing import make_preprocessor

#: Rows per compiled prediction call; inputs are padded to a power of two up to this size so
#: that JAX compiles a handful of shapes instead of one per input size.
PREDICTION_CHUNK = 2048


class DLClassifier(ClassifierMixin, BaseEstimator):
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

    _parameter_constraints: dict = {
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
        "refit": ["boolean"],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "mixup": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state", np.random.Generator],
        "verbose": ["verbose"],
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

    def _build(self, n_features: int, n_classes: int):
        # Mixup trains on soft targets (see ShuffledBatches); without it the labels stay integers.
        loss = "categorical_crossentropy" if self.mixup else "sparse_categorical_crossentropy"
        return _build_mlp(self, n_features, n_classes, "softmax", loss)

    def fit(self, X, y):
        validate_params(self)
        X, y = validate_data(self, X, y, dtype=np.float32)
        check_classification_targets(y)
        if len(y) < 2:
            raise SrnaParameterError(f"DLClassifier needs at least 2 samples, got n_samples = {len(y)}")
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise SrnaParameterError(f"DLClassifier needs at least two classes, got {len(self.classes_)}")
        self._seed = _seed_of(self.random_state)
        train, validation = _validation_split(encoded, self.validation_share, self._seed)
        stopping = None
        validation_data = None
        self.early_stopping_ = bool(len(validation))
        if self.validation_share and not self.early_stopping_:
            _warn_no_early_stopping(self, len(y))
        if len(validation):
            validation_data = (X[validation], encoded[validation])
            stopping = _early_stopping(self, len(train))
        history = self._train(X[train], encoded[train], self.max_epochs, validation_data, [stopping] if stopping else [])
        self.n_epochs_ = len(history.epoch)
        self.best_epochs_ = stopping.best_epoch + 1 if stopping is not None else self.n_epochs_
        if self.refit and len(validation):
            self._train(X, encoded, self.best_epochs_, None, [])
        return self

    def _train(self, X: np.ndarray, encoded: np.ndarray, epochs: int, validation_data, callbacks):
        """A fresh, seeded network trained on these rows (class weights from these rows)."""
        import keras

        weights = None
        if self.class_weight is not None:
            present = np.unique(encoded)
            given = compute_class_weight(self.class_weight, classes=self.classes_[present], y=self.classes_[encoded])
            weights = {int(c): float(w) for c, w in zip(present, given)}
        self.model_ = self._build(X.shape[1], len(self.classes_))
        if self.mixup:
            # Blended samples carry soft targets and their class weights as sample weights (see ShuffledBatches).
            per_class = np.ones(len(self.classes_), dtype=np.float32)
            for c, w in (weights or {}).items():
                per_class[c] = w
            batches = _shuffled_batches_class()(X, encoded, self.batch_size, self._seed, mixup=self.mixup,
                                                class_weights=per_class)
            weights = None
            if validation_data is not None:
                validation_data = (validation_data[0], np.eye(len(self.classes_), dtype=np.float32)[validation_data[1]])
        else:
            batches = _shuffled_batches_class()(X, encoded, self.batch_size, self._seed)
        return self.model_.fit(
            batches, validation_data=validation_data, epochs=epochs,
            class_weight=weights, callbacks=callbacks, verbose=self.verbose, shuffle=False,  # the batches shuffle themselves
        )

    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return predict_in_chunks(self.model_, X)

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
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        yield from _iter_permuted_outputs(self.model_, X, permutations, block)

    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The trained network as affine maps ``(kernel, bias)`` in float64, ReLU between them.

        Inference-time view: dropout is the identity and batch normalization is folded into the
        preceding dense layer. The last map gives the logits (softmax input). Used by the
        gradient-based attributions of :mod:`srna_nb.explain.gradients`.
        """
        check_is_fitted(self, "model_")
        return _affine_maps(self.model_)

    def __getstate__(self) -> dict:
        """Pickle support (joblib workers, copies): the network travels as ``.keras`` bytes."""
        state = self.__dict__.copy()
        if "model_" in state:
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.keras"
                state["model_"].save(path)
                state["model_"] = path.read_bytes()
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("model_"), bytes):
            import tempfile
            from pathlib import Path

            import keras

            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / "model.keras"
                path.write_bytes(state["model_"])
                # compile=False: a model saved under one backend loads under another.
                state["model_"] = keras.models.load_model(path, compile=False)
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


def _early_stopping(estimator, n_train: int):
    """Keras early stopping on the validation loss that first lets ``min_steps`` minibatches train."""
    import keras

    batches_per_epoch = -(-n_train // estimator.batch_size)
    warmup_epochs = min(-(-estimator.min_steps // batches_per_epoch), estimator.max_epochs)
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=estimator.patience, restore_best_weights=True,
                                         start_from_epoch=max(warmup_epochs - 1, 0))


def _warn_no_early_stopping(estimator, n_samples: int) -> None:
    """Say that an MLP's validation share left no rows, so all ``max_epochs`` were trained."""
    warnings.warn(f"{type(estimator).__name__}: {n_samples} training samples leave no validation rows at validation_share="
                  f"{estimator.validation_share}; trained {estimator.max_epochs} epochs without early stopping", UserWarning,
                  stacklevel=3)


def _iter_permuted_outputs(network, X: np.ndarray, permutations: np.ndarray, block: int):
    """The network's outputs with one input column at a time permuted (see :meth:`DLClassifier.iter_permuted_proba`)."""
    import keras

    layers = list(network.layers)
    first = next(i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Dense))
    weights = [np.asarray(w, dtype=np.float32) for w in layers[first].get_weights()]
    kernel = weights[0]
    bias = weights[1] if len(weights) > 1 else np.zeros(kernel.shape[1], dtype=np.float32)  # no bias before batch norm
    tail = keras.Sequential([keras.Input(shape=(kernel.shape[1],))] + layers[first + 1 :])
    base = X @ kernel + bias
    n_samples, n_features = X.shape
    for repeat, order in enumerate(permutations):
        for start in range(0, n_features, block):
            columns = np.arange(start, min(start + block, n_features))
            shift = X[order[columns], columns[:, None]] - X[:, columns].T  # (columns, samples)
            stacked = base[None, :, :] + shift[:, :, None] * kernel[columns][:, None, :]
            outputs = predict_in_chunks(tail, stacked.reshape(-1, kernel.shape[1]))
            for k, column in enumerate(columns):
                yield repeat, int(column), outputs[k * n_samples : (k + 1) * n_samples]


def _affine_maps(network) -> list[tuple[np.ndarray, np.ndarray]]:
    """A Keras MLP as float64 affine maps, batch normalization folded in (see :meth:`DLClassifier.dense_layers`)."""
    import keras

    maps: list[tuple[np.ndarray, np.ndarray]] = []
    for layer in network.layers:
        weights = [np.asarray(w, dtype=np.float64) for w in layer.get_weights()]
        if isinstance(layer, keras.layers.Dense):
            bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[1])
            maps.append((weights[0], bias))
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = weights
            scale = gamma / np.sqrt(variance + layer.epsilon)
            kernel, bias = maps[-1]
            maps[-1] = (kernel * scale, (bias - mean) * scale + beta)
    return maps


def _build_mlp(estimator, n_features: int, n_outputs: int, activation: str | None, loss: str):
    """The compiled MLP of a :class:`DLClassifier` or :class:`DLRegressor` from its parameters.

    Every random layer gets its own seed from the estimator's seed: Keras' global seed state is
    shared with whatever else runs in the process (a Dask worker's threads), so relying on it
    would make a fit depend on where it runs.
    """
    import keras

    seeds = iter(range(estimator._seed * 1000, estimator._seed * 1000 + 1000))
    regularizer = keras.regularizers.L2(estimator.l2) if estimator.l2 else None
    layers = [keras.Input(shape=(n_features,))]
    if estimator.input_dropout:
        layers.append(keras.layers.Dropout(estimator.input_dropout, seed=next(seeds)))
    for units in estimator.hidden_layers:
        layers.append(keras.layers.Dense(int(units), kernel_regularizer=regularizer, use_bias=not estimator.batch_norm,
                                         kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds))))
        if estimator.batch_norm:
            layers.append(keras.layers.BatchNormalization())
        layers.append(keras.layers.Activation("relu"))
        if estimator.dropout:
            layers.append(keras.layers.Dropout(estimator.dropout, seed=next(seeds)))
    layers.append(keras.layers.Dense(n_outputs, activation=activation,
                                     kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds))))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(estimator.learning_rate), loss=loss)
    return model


@lru_cache(maxsize=1)
def _shuffled_batches_class():
    """The batch class, made on first use (keras is imported lazily)."""
    import keras

    class ShuffledBatches(keras.utils.PyDataset):
        """Minibatches in a new order every epoch, drawn from the fit's own generator.

        Keras shuffles arrays with NumPy's global generator, which would make a fit depend on
        whatever else runs in the process (and seeding it would reset everyone else's).
        """

        def __init__(self, X: np.ndarray, y: np.ndarray, batch_size: int, seed: int, mixup: float = 0.0,
                     class_weights: np.ndarray | None = None):
            """``class_weights``: one per class (its length is the number of classes); needed for mixup."""
            super().__init__()
            self.X, self.y, self.batch_size = X, y, batch_size
            self.mixup, self.class_weights = mixup, class_weights
            self.generator = np.random.default_rng(seed)
            self.order = self.generator.permutation(len(y))

        def __len__(self) -> int:
            return -(-len(self.y) // self.batch_size)

        def __getitem__(self, index: int):
            rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
            if not self.mixup:
                return self.X[rows], self.y[rows]
            return self._mixed(rows)

        def _mixed(self, rows: np.ndarray):
            """Mixup: blended samples with soft targets, one row per blend.

            The class-weighted loss of a blend, ``share * w1 * CE(y1) + (1 - share) * w2 * CE(y2)``,
            equals ``Z * CE(t)`` with the soft target ``t = (share * w1 * e_y1 + (1 - share) * w2 * e_y2) / Z``
            and the sample weight ``Z = share * w1 + (1 - share) * w2``: the loss of each label
            weighted by its class, at the cost of one row (not one per label).
            """
            share = self.generator.beta(self.mixup, self.mixup, size=len(rows)).astype(np.float32)
            partner = rows[self.generator.permutation(len(rows))]
            blended = share[:, None] * self.X[rows] + (1 - share[:, None]) * self.X[partner]
            own, other = share * self.class_weights[self.y[rows]], (1 - share) * self.class_weights[self.y[partner]]
            targets = np.zeros((len(rows), len(self.class_weights)), dtype=np.float32)
            np.add.at(targets, (np.arange(len(rows)), self.y[rows]), own)
            np.add.at(targets, (np.arange(len(rows)), self.y[partner]), other)
            sample_weights = own + other
            return blended, targets / sample_weights[:, None], sample_weights

        def on_epoch_end(self) -> None:
            self.order = self.generator.permutation(len(self.y))

    return ShuffledBatches


def predict_in_chunks(model, X: np.ndarray, chunk: int = PREDICTION_CHUNK) -> np.ndarray:
    """Compiled prediction (``predict_on_batch``) over row chunks padded to a few fixed sizes."""
    outputs = []
    for start in range(0, len(X), chunk):
        block = X[start : start + chunk]
        size = min(chunk, 1 << max(0, int(np.ceil(np.log2(len(block))))))
        padded = np.zeros((size, X.shape[1]), dtype=np.float32)
        padded[: len(block)] = block
        outputs.append(np.asarray(model.predict_on_batch(padded))[: len(block)])
    return np.concatenate(outputs).astype(np.float64) if outputs else np.zeros((0, model.output_shape[-1]))


def _seed_of(random_state) -> int:
    """An int seed from ``random_state`` as scikit-learn accepts it, or a NumPy ``Generator``."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**20))
    return int(check_random_state(random_state).randint(2**20))


def _validation_split(encoded: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified inner split of the training data for early stopping (random when a class is too rare)."""
    positions = np.arange(len(encoded))
    if not share:
        return positions, positions[:0]
    counts = np.bincount(encoded)
    stratify = encoded if counts[counts > 0].min() >= 2 else None
    n_validation = max(int(round(share * len(encoded))), len(np.unique(encoded)) if stratify is not None else 1)
    if n_validation >= len(encoded) - 1:
        return positions, positions[:0]
    train, validation = train_test_split(positions, test_size=n_validation, stratify=stratify, random_state=seed)
    return np.sort(train), np.sort(validation)


class RFClassifier(RandomForestClassifier):
    """scikit-learn's random forest with the study's style of settings as defaults.

    500 trees, sqrt(p) features per split, fully grown trees, balanced class weights per
    bootstrap sample, all cores, seed 0. Every other
    :class:`~sklearn.ensemble.RandomForestClassifier` parameter is accepted, cloned and
    validated as scikit-learn does, with scikit-learn's default.
    """

    def __init__(
        self,
        n_estimators: int = 500,
        *,
        criterion="gini",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features="sqrt",
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        bootstrap=True,
        oob_score=False,
        n_jobs=-1,
        random_state=0,
        verbose=0,
        warm_start=False,
        class_weight="balanced_subsample",
        ccp_alpha=0.0,
        max_samples=None,
        monotonic_cst=None,
    ):
        super().__init__(
            n_estimators=n_estimators, criterion=criterion, max_depth=max_depth, min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf, min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features, max_leaf_nodes=max_leaf_nodes, min_impurity_decrease=min_impurity_decrease,
            bootstrap=bootstrap, oob_score=oob_score, n_jobs=n_jobs, random_state=random_state, verbose=verbose,
            warm_start=warm_start, class_weight=class_weight, ccp_alpha=ccp_alpha, max_samples=max_samples,
            monotonic_cst=monotonic_cst,
        )

    def iter_permuted_proba(self, X, permutations: np.ndarray):
        """Class probabilities with one column at a time replaced by a permutation of its rows.

        Exact up to float64 summation order: permuting feature ``j`` can only change trees that
        split on ``j``, so each tree's probabilities on the unpermuted data are computed once and
        only the trees using ``j`` are re-predicted. See :meth:`DLClassifier.iter_permuted_proba`
        for the arguments.
        """
        check_is_fitted(self, "estimators_")
        X = np.ascontiguousarray(validate_data(self, X, dtype=np.float32, reset=False))
        yield from _iter_permuted_forest(self.estimators_, X, permutations, lambda tree, rows: tree.predict_proba(rows, check_input=False))


def _iter_permuted_forest(trees, X: np.ndarray, permutations: np.ndarray, predict):
    """A forest's mean output with one column at a time permuted, re-predicting only the trees that split on it."""
    per_tree = [predict(tree, X) for tree in trees]
    total = np.sum(per_tree, axis=0, dtype=np.float64)
    users: dict[int, list[int]] = {}
    for index, tree in enumerate(trees):
        for feature in np.unique(tree.tree_.feature[tree.tree_.feature >= 0]):
            users.setdefault(int(feature), []).append(index)
    permuted = X.copy()
    for repeat, orders in enumerate(permutations):
        for column, order in enumerate(orders):
            using = users.get(column, [])
            if not using:
                yield repeat, column, total / len(trees)
                continue
            permuted[:, column] = X[order, column]
            changed = total.copy()
            for index in using:
                changed += predict(trees[index], permuted) - per_tree[index]
            permuted[:, column] = X[:, column]
            yield repeat, column, changed / len(trees)


class RFRegressor(RandomForestRegressor):
    """scikit-learn's random forest for numbers: 300 trees, a third of the features per split (the
    usual regression default), all cores, seed 0; every other parameter as scikit-learn has it."""

    def __init__(
        self,
        n_estimators: int = 300,
        *,
        criterion="squared_error",
        max_depth=None,
        min_samples_split=2,
        min_samples_leaf=1,
        min_weight_fraction_leaf=0.0,
        max_features=0.33,
        max_leaf_nodes=None,
        min_impurity_decrease=0.0,
        bootstrap=True,
        oob_score=False,
        n_jobs=-1,
        random_state=0,
        verbose=0,
        warm_start=False,
        ccp_alpha=0.0,
        max_samples=None,
        monotonic_cst=None,
    ):
        super().__init__(
            n_estimators=n_estimators, criterion=criterion, max_depth=max_depth, min_samples_split=min_samples_split,
            min_samples_leaf=min_samples_leaf, min_weight_fraction_leaf=min_weight_fraction_leaf,
            max_features=max_features, max_leaf_nodes=max_leaf_nodes, min_impurity_decrease=min_impurity_decrease,
            bootstrap=bootstrap, oob_score=oob_score, n_jobs=n_jobs, random_state=random_state, verbose=verbose,
            warm_start=warm_start, ccp_alpha=ccp_alpha, max_samples=max_samples, monotonic_cst=monotonic_cst,
        )

    def iter_permuted_predictions(self, X, permutations: np.ndarray):
        """Predictions with one column at a time permuted: only trees splitting on it re-predict (exact, as
        :meth:`RFClassifier.iter_permuted_proba`)."""
        check_is_fitted(self, "estimators_")
        X = np.ascontiguousarray(validate_data(self, X, dtype=np.float32, reset=False))
        predict = lambda tree, rows: tree.predict(rows, check_input=False).reshape(len(rows), -1)  # noqa: E731
        for repeat, column, values in _iter_permuted_forest(self.estimators_, X, permutations, predict):
            yield repeat, column, values[:, 0]


class DLRegressor(RegressorMixin, BaseEstimator):
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
    n_epochs_, best_epochs_ : int
        Epochs trained, and epochs of the kept weights.
    """

    _parameter_constraints: dict = {
        key: value for key, value in DLClassifier._parameter_constraints.items() if key not in ("class_weight", "refit", "mixup")
    } | {"loss": [StrOptions({"huber", "mean_squared_error"})]}

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
        self._seed = _seed_of(self.random_state)
        self.y_mean_ = float(np.mean(y))
        self.y_scale_ = float(np.std(y)) or 1.0
        scaled = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        positions = np.arange(len(y))
        n_validation = int(round(self.validation_share * len(y)))
        self.early_stopping_ = 0 < n_validation < len(y) - 1
        if self.validation_share and not self.early_stopping_:
            _warn_no_early_stopping(self, len(y))
        callbacks, validation_data, train = [], None, positions
        if self.early_stopping_:
            train, validation = train_test_split(positions, test_size=n_validation, random_state=self._seed)
            train, validation = np.sort(train), np.sort(validation)
            validation_data = (X[validation], scaled[validation])
            callbacks = [_early_stopping(self, len(train))]
        self.model_ = _build_mlp(self, X.shape[1], 1, None, self.loss)
        batches = _shuffled_batches_class()(X[train], scaled[train], self.batch_size, self._seed)
        history = self.model_.fit(batches, validation_data=validation_data, epochs=self.max_epochs, callbacks=callbacks,
                                  verbose=self.verbose, shuffle=False)
        self.n_epochs_ = len(history.epoch)
        self.best_epochs_ = callbacks[0].best_epoch + 1 if callbacks else self.n_epochs_
        return self

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return predict_in_chunks(self.model_, X)[:, 0] * self.y_scale_ + self.y_mean_

    def iter_permuted_predictions(self, X, permutations: np.ndarray, block: int = 32):
        """Predictions with one column at a time permuted (exact rank-one shortcut of
        :meth:`DLClassifier.iter_permuted_proba`); yields (repeat, column, predictions)."""
        check_is_fitted(self, "model_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        for repeat, column, outputs in _iter_permuted_outputs(self.model_, X, permutations, block):
            yield repeat, column, outputs[:, 0] * self.y_scale_ + self.y_mean_

    def dense_layers(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The network as float64 affine maps with ReLU between them; the last map gives the prediction in
        the target's own units (the standardization folded in), for :mod:`srna_nb.explain.gradients`."""
        check_is_fitted(self, "model_")
        *hidden, (kernel, bias) = _affine_maps(self.model_)
        return [*hidden, (kernel * self.y_scale_, bias * self.y_scale_ + self.y_mean_)]

    __getstate__ = DLClassifier.__getstate__
    __setstate__ = DLClassifier.__setstate__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags


def linear_regressor(alphas: Sequence[float] = tuple(np.logspace(-2, 5, 15))) -> RidgeCV:
    """Ridge regression, its penalty chosen by leave-one-out on the training rows only (efficient, exact)."""
    return RidgeCV(alphas=alphas)


#: Regressor names accepted in parameter files, with their constructors.
REGRESSORS = {"dl": DLRegressor, "rf": RFRegressor, "linear": linear_regressor}


def detach_networks(pipeline: Pipeline) -> tuple[Pipeline, dict]:
    """A copy of a fitted pipeline without its Keras networks, and the networks by step name.

    Keras models are saved in their own ``.keras`` format; everything else in the copy is plain
    scikit-learn state that :mod:`skops` can store safely.
    """
    steps, networks = [], {}
    for name, step in pipeline.steps:
        if isinstance(step, (DLClassifier, DLRegressor)) and hasattr(step, "model_"):
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


def linear_classifier(C: float = 1.0, max_iter: int = 500, class_weight: str | None = "balanced", random_state: int = 0) -> LogisticRegression:
    """L2-regularized multinomial logistic regression: the simple baseline a fair benchmark needs.

    ``C = 1.0`` (scikit-learn's default), measured against 0.01-0.2 on every benchmark row (docs/design.md).
    """
    return LogisticRegression(C=C, max_iter=max_iter, class_weight=class_weight, random_state=random_state)


def input_importance(pipeline: Pipeline, n_features: int) -> np.ndarray:
    """How much a fitted pipeline's classifier (or regressor) relies on each input feature (0 for filtered-out ones).

    Cheap, model-specific and on centred (or standardized) inputs: mean absolute coefficient over classes
    (logistic or ridge regression), impurity importance (random forest), L2 norm of the first dense
    layer's weights (DL). Used to say what share of a model a new matrix covers, not to explain it.
    """
    classifier = pipeline[-1]
    if hasattr(classifier, "coef_"):
        weights = np.abs(np.atleast_2d(classifier.coef_)).mean(axis=0)  # ridge's coef_ is one row
    elif hasattr(classifier, "feature_importances_"):
        weights = classifier.feature_importances_
    else:
        weights = np.linalg.norm(classifier.dense_layers()[0][0], axis=1)
    importance = np.zeros(n_features)
    importance[pipeline[0].named_steps["detected"].support_] = weights
    return importance / importance.sum() if importance.sum() > 0 else importance


def model_spec(label: str, params: Mapping[str, Any] | None = None) -> tuple[str, dict]:
    """``(model name, hyperparameters)`` of a labelled model variant.

    Comparisons name variants by label, e.g. ``{"dl-standard": {"model": "dl", "scaling": "standard"}}``:
    the ``model`` entry names the model, and without it the label does.
    """
    params = dict(params or {})
    return params.pop("model", label), params


#: Model names accepted in parameter files, with their constructors.
MODELS = {"dl": DLClassifier, "rf": RFClassifier, "linear": linear_classifier}
#: The preprocessing's last step (:data:`srna_nb.preprocessing.SCALINGS`) unless ``params`` names one.
#: Classifiers quantile-normalize each sample: it won on held-out studies and, by far, across
#: pipelines (docs/design.md, 2026-12-02). Regressors keep centring: for age,
#: quantiles won on some rows and lost on others (the same entry).
DEFAULT_SCALING = {"classifier": "quantile", "regressor": "center"}


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
