"""The Keras side of the MLPs: building a seeded network, its minibatches, early stopping, prediction.

Everything here works on a compiled ``keras.Sequential`` and the estimator's parameters; the
scikit-learn estimators of :mod:`srna_nb.models.mlp` call it. Keras is imported inside the
functions so that ``import srna_nb`` stays light.
"""

from __future__ import annotations

import numbers
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state

#: Rows per compiled prediction call; inputs are padded to a power of two up to this size so
#: that JAX compiles a handful of shapes instead of one per input size.
PREDICTION_CHUNK = 2048


def build_network(estimator, n_features: int, n_outputs: int, activation: str | None, loss: str):
    """The compiled MLP of a :class:`~srna_nb.models.DLClassifier` or :class:`~srna_nb.models.DLRegressor`.

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


def early_stopping(estimator, n_train: int):
    """Keras early stopping on the validation loss that first lets ``min_steps`` minibatches train."""
    import keras

    batches_per_epoch = -(-n_train // estimator.batch_size)
    warmup_epochs = min(-(-estimator.min_steps // batches_per_epoch), estimator.max_epochs)
    return keras.callbacks.EarlyStopping(monitor="val_loss", patience=estimator.patience, restore_best_weights=True,
                                         start_from_epoch=max(warmup_epochs - 1, 0))


def warn_no_early_stopping(estimator, n_samples: int) -> None:
    """Say that an MLP's validation share left no rows, so all ``max_epochs`` were trained."""
    warnings.warn(f"{type(estimator).__name__}: {n_samples} training samples leave no validation rows at validation_share="
                  f"{estimator.validation_share}; trained {estimator.max_epochs} epochs without early stopping", UserWarning,
                  stacklevel=4)  # the caller of the estimator's fit


def stratified_validation_split(encoded: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
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


def random_validation_split(n_samples: int, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Random inner split for early stopping on a numeric target; no rows when the share leaves none or all."""
    positions = np.arange(n_samples)
    n_validation = int(round(share * n_samples))
    if not 0 < n_validation < n_samples - 1:
        return positions, positions[:0]
    train, validation = train_test_split(positions, test_size=n_validation, random_state=seed)
    return np.sort(train), np.sort(validation)


def seed_of(random_state) -> int:
    """An int seed from ``random_state`` as scikit-learn accepts it, or a NumPy ``Generator``."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**20))
    return int(check_random_state(random_state).randint(2**20))


@lru_cache(maxsize=1)
def shuffled_batches_class():
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


def iter_permuted_outputs(network, X: np.ndarray, permutations: np.ndarray, block: int):
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


def affine_maps(network) -> list[tuple[np.ndarray, np.ndarray]]:
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


def network_to_bytes(network) -> bytes:
    """A network as ``.keras`` file bytes (pickling: joblib workers, copies)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        network.save(path)
        return path.read_bytes()


def network_from_bytes(data: bytes):
    """The network saved by :func:`network_to_bytes`."""
    import keras

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        # compile=False: a model saved under one backend loads under another.
        return keras.models.load_model(path, compile=False)
