"""Peak-memory sampling of this process and of the processes it starts."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from srna_nb.resources import PeakMemory

MB = 2**20


def test_peak_of_this_process_sees_a_temporary_array():
    with PeakMemory(interval=0.001) as memory:
        start = memory.peak
        block = np.ones(200 * MB // 8)  # written, so its pages are resident
        del block
    assert memory.peak - start > 150 * MB
    assert memory.current() < memory.peak


def test_peak_of_child_processes_sees_a_child_allocation():
    child = "import numpy, time; a = numpy.ones(300 * 2**20 // 8); time.sleep(1.0)"
    with PeakMemory(children=True, interval=0.05) as memory:
        before = memory.peak  # other children of the test process, if any
        subprocess.run([sys.executable, "-c", child], check=True)
    assert memory.peak - before > 250 * MB
    assert memory.current() - before < 100 * MB  # the child has ended
