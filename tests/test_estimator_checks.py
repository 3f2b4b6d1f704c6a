"""scikit-learn's own estimator checks for every estimator and transformer in srna_nb.

A check an estimator cannot pass by design is listed with the reason; everything else must pass.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.calibration import TemperatureScaler
from srna_nb.models import DLClassifier, DLRegressor, RFClassifier, RFRegressor
from srna_nb.novelty import NoveltyScorer
from srna_nb.preprocessing import DetectionFilter, LibrarySizeNormalizer, Log2p, QuantileNormalizer

#: Small but able to learn the checks' toy problems: no dropout, 60 epochs without early stopping.
SMALL_DL = DLClassifier(hidden_layers=(16,), max_epochs=60, validation_share=0.0, learning_rate=0.01, batch_size=32,
                        dropout=0.0, input_dropout=0.0)

SMALL_DL_REGRESSOR = DLRegressor(hidden_layers=(16,), max_epochs=60, validation_share=0.0, learning_rate=0.01, batch_size=32,
                                 dropout=0.0, input_dropout=0.0)

ESTIMATORS = [
    LibrarySizeNormalizer(), Log2p(), DetectionFilter(), QuantileNormalizer(), NoveltyScorer(), TemperatureScaler(),
    RFClassifier(n_estimators=10, n_jobs=1), RFRegressor(n_estimators=10, n_jobs=1), SMALL_DL, SMALL_DL_REGRESSOR,
]

_LABELS_ARE_COLUMNS = ("its labels are column positions of the probabilities it is given; the check's "
                       "labels and columns do not match")
_BOOTSTRAP = {
    "check_sample_weight_equivalence_on_dense_data": "bootstrap: sample_weight is not equivalent to repeated samples",
    "check_sample_weight_equivalence_on_sparse_data": "bootstrap: sample_weight is not equivalent to repeated samples",
}
EXPECTED_FAILURES = {
    "TemperatureScaler": {
        "check_estimators_overwrite_params": _LABELS_ARE_COLUMNS,
        "check_estimators_fit_returns_self": _LABELS_ARE_COLUMNS,
        "check_readonly_memmap_input": _LABELS_ARE_COLUMNS,
        "check_estimators_nan_inf": _LABELS_ARE_COLUMNS,
        "check_dtype_object": _LABELS_ARE_COLUMNS,
    },
    # As for scikit-learn's own forests: bootstrap draws make weights differ from repeated rows.
    "RFClassifier": _BOOTSTRAP,
    "RFRegressor": _BOOTSTRAP,
}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@pytest.mark.slow
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_parameter_has_a_constraint(estimator):
    """Parameters are validated in ``fit`` from ``_parameter_constraints``, scikit-learn style."""
    assert set(estimator._parameter_constraints) == set(estimator.get_params(deep=False))


@pytest.mark.parametrize("estimator, parameters, message", [
    (DLClassifier(), {"dropout": 1.5}, "DLClassifier: The 'dropout' parameter of DLClassifier must be a float in the range [0.0, 1.0). Got 1.5 instead."),
    (DLClassifier(), {"class_weight": "even"}, "DLClassifier: The 'class_weight' parameter"),
    (DLClassifier(), {"random_state": "seven"}, "DLClassifier: The 'random_state' parameter"),
    (DetectionFilter(), {"min_share": 2.0}, "DetectionFilter: The 'min_share' parameter"),
    (NoveltyScorer(), {"n_signature": 0}, "NoveltyScorer: The 'n_signature' parameter"),
    (Log2p(), {"pseudocount": -1}, "Log2p: The 'pseudocount' parameter"),
])
def test_bad_parameters_are_refused_in_fit_in_one_line(estimator, parameters, message):
    import numpy as np

    from srna_nb.errors import SrnaParameterError

    X, y = np.abs(np.random.default_rng(0).normal(size=(20, 4))), np.repeat([0, 1], 10)
    with pytest.raises(SrnaParameterError) as error:
        estimator.set_params(**parameters).fit(X, y)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
