"""Where independent jobs run (folds x models x protocols): serially, in local processes, or on Dask.

srna_nb hands its independent model fits to :class:`joblib.Parallel`; which engine executes them is
chosen by :func:`use`, a context manager around :func:`joblib.parallel_config`:

- ``"serial"`` (default): one job after the other in this process.
- ``"loky"``: local worker processes (``n_jobs``, default all cores).
- ``"dask"``: a Dask cluster through ``dask.distributed`` and joblib's Dask backend. Give the
  scheduler's address (``tcp://HOST:8786``) to use a running cluster, or none to start a
  ``LocalCluster`` on this machine for the duration of the block.

Results do not depend on the engine: every job gets its own seeded estimator and its data by
position, and results are collected in job order.

Running on a cluster: start ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786``
on each worker machine, in an environment with srna_nb installed (the same ``pip install``); then
``srna-nb run --backend dask --scheduler tcp://HOST:8786`` (or the notebooks' ``backend`` and
``scheduler`` parameters). GPUs: start one worker per GPU with one thread
(``CUDA_VISIBLE_DEVICES=i dask worker ... --nthreads 1``) and install ``.[gpu]`` there, so that
each Keras fit has a GPU to itself.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from joblib import Parallel, delayed, parallel_config

from srna_nb.errors import SrnaParameterError

BACKENDS = ("serial", "loky", "dask")
#: How long to try reaching a Dask scheduler before giving up with a one-line error.
SCHEDULER_TIMEOUT = "10s"


@contextmanager
def use(backend: str = "serial", scheduler: str | None = None, n_jobs: int | None = None) -> Iterator[None]:
    """Run srna_nb's independent jobs inside the block on ``backend`` (see the module docstring)."""
    if backend not in BACKENDS:
        raise SrnaParameterError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if scheduler is not None and backend != "dask":
        raise SrnaParameterError(f"a scheduler address is only used with backend 'dask', not {backend!r}")
    if backend == "serial":
        with parallel_config(backend="sequential"):
            yield
        return
    if backend == "loky":
        with parallel_config(backend="loky", n_jobs=n_jobs or -1):
            yield
        return
    try:
        from dask.distributed import Client
    except ImportError:  # pragma: no cover - dask is a dependency
        raise SrnaParameterError("backend 'dask' needs dask.distributed: pip install 'dask[distributed]'") from None
    try:
        client = Client(scheduler, timeout=SCHEDULER_TIMEOUT) if scheduler else Client(n_workers=n_jobs, threads_per_worker=1)
    except OSError as error:
        raise SrnaParameterError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    try:
        with parallel_config(backend="dask"):
            yield
    finally:
        client.close()


def run_jobs(function: Callable[..., Any], jobs: Iterable[tuple]) -> Iterator[Any]:
    """``function(*job)`` for each job on the engine chosen by :func:`use`, yielded in job order as they finish."""
    return Parallel(return_as="generator")(delayed(function)(*job) for job in jobs)
