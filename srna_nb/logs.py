"""The package logger: library calls are quiet unless asked; notebooks and the command line show INFO.

Every message srna_nb has for its user (what a loader read and how names were harmonized, which
classes a target kept, how a new matrix overlaps a model) goes to the ``srna_nb`` logger. A
library call prints nothing unless the caller configures logging (``logging.basicConfig`` or
:func:`show_messages`); the notebooks and ``srna-nb`` call :func:`show_messages`.
"""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("srna_nb")
logger.addHandler(logging.NullHandler())


class _CurrentStdout(logging.Handler):
    """Writes to whatever ``sys.stdout`` is when a message comes (a notebook's cell output, a test's capture)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging's own rule: a failing handler never breaks the caller
            self.handleError(record)


def show_messages(level: int | str = logging.INFO) -> None:
    """Show srna_nb's messages of ``level`` and above as plain lines on standard output (once, however often called)."""
    if not any(isinstance(handler, _CurrentStdout) for handler in logger.handlers):
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)
