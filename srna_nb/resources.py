"""Measured resource use: peak resident memory of this process or of the processes it started.

``srna-nb run`` records the peak memory of every report's kernel (and whatever the kernel starts,
such as local Dask workers) on the report index; the benchmarks use the same sampler per step.
"""

from __future__ import annotations

import threading

import psutil


class PeakMemory:
    """Peak resident memory (bytes), sampled every ``interval`` seconds in a background thread.

    Parameters
    ----------
    children
        False: this process. True: the sum over all processes this one started (recursively),
        e.g. a notebook's kernel and its workers; this process itself is not counted.
    interval
        Seconds between samples; a peak shorter than that can be missed.

    Use as a context manager; ``peak`` holds the largest sample so far and ``reset()`` starts
    a new measurement from the current value.
    """

    def __init__(self, children: bool = False, interval: float = 0.1):
        self.children = children
        self.interval = interval
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> int:
        """Resident bytes now."""
        if not self.children:
            return self._process.memory_info().rss
        total = 0
        for child in self._process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # ended between listing and reading
                pass
        return total

    def reset(self) -> int:
        """Start a new peak from the current value (returned)."""
        self.peak = now = self.current()
        return now

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.current())

    def __enter__(self) -> PeakMemory:
        self.reset()
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, name="srna-nb peak memory", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, self.current())
