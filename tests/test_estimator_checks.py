"""scikit-learn's own estimator checks for every estimator and transformer in srna_nb.

A check an estimator cannot pass by design is listed with the reason; everything else must pass.
"""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import srna_nb  # noqa: F401  (sets the Keras backend)
from srna_nb.calibration import TemperatureScaler
from srna_nb.models import DLClassifier, RFClassifier
from srna_nb.novelty import NoveltyScorer
from srna_nb.preprocessing import DetectionFilter, LibrarySizeNormalizer, Log2p

#: Small but able to learn the checks' toy problems: no dropout, 60 epochs without early stopping.
SMALL_DL = DLClassifier(hidden_layers=(16,), max_epochs=60, validation_share=0.0, learning_rate=0.01, batch_size=32,
                        dropout=0.0, input_dropout=0.0)

ESTIMATORS = [
    LibrarySizeNormalizer(), Log2p(), DetectionFilter(), NoveltyScorer(), TemperatureScaler(),
    RFClassifier(n_estimators=10, n_jobs=1), SMALL_DL,
]

_LABELS_ARE_COLUMNS = ("its labels are column positions of the probabilities it is given; the check's "
                       "labels and columns do not match")
EXPECTED_FAILURES = {
    "TemperatureScaler": {
        "check_estimators_overwrite_params": _LABELS_ARE_COLUMNS,
        "check_estimators_fit_returns_self": _LABELS_ARE_COLUMNS,
        "check_readonly_memmap_input": _LABELS_ARE_COLUMNS,
        "check_estimators_nan_inf": _LABELS_ARE_COLUMNS,
        "check_dtype_object": _LABELS_ARE_COLUMNS,
    },
    "RFClassifier": {
        # As for scikit-learn's own forest: bootstrap draws make weights differ from repeated rows.
        "check_sample_weight_equivalence_on_dense_data": "bootstrap: sample_weight is not equivalent to repeated samples",
        "check_sample_weight_equivalence_on_sparse_data": "bootstrap: sample_weight is not equivalent to repeated samples",
    },
}


def expected_failures(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES.get(type(estimator).__name__, {})


@pytest.mark.slow
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
