"""The project's exception types.

Every problem with what a user gave (files, sample sheets, parameters) is raised as a
subclass of :class:`SrnaError` with a one-line message that names the file, row, column or
parameter and the problem, so that notebooks and the command line can show it as it is.
"""

from __future__ import annotations


class SrnaError(Exception):
    """Base class of all errors raised on purpose by srna_nb."""

    def __init__(self, message: str) -> None:
        # One line, always: multi-line messages break the CLI's error contract.
        super().__init__(" ".join(str(message).split()))


class SrnaInputError(SrnaError, ValueError):
    """A data file or sample sheet cannot be used as given."""


class SrnaParameterError(SrnaError, ValueError):
    """A parameter (target, model, protocol, profile ...) is unknown or out of range."""


def validate_params(estimator) -> None:
    """Check an estimator's parameters against its ``_parameter_constraints`` (scikit-learn's rules).

    scikit-learn's own ``InvalidParameterError`` becomes a :class:`SrnaParameterError` naming the
    estimator, so notebooks and the command line show it as one line like every other problem.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    try:
        estimator._validate_params()
    except InvalidParameterError as error:
        raise SrnaParameterError(f"{type(estimator).__name__}: {error}") from None
