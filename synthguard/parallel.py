"""Where shadow trainings run: in this process, in local worker processes, or on a Dask cluster.

Every backend runs the same function on the same tasks and returns results in task order; each
task seeds itself and uses one torch thread, so the results are identical whichever runs them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from .errors import SynthguardError

T = TypeVar("T")
R = TypeVar("R")
BACKENDS = ("local", "dask")


def default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


def run_tasks(fn: Callable[[T], R], tasks: Sequence[T], *, backend: str = "local", workers: int | None = None,
              scheduler: str | None = None, on_done: Callable[[int, int], None] | None = None,
              on_result: Callable[[int, R], None] | None = None) -> list[R]:
    """Run `fn` over `tasks`; `on_done(done, total)` reports progress as results arrive, and
    `on_result(i, result)` receives task i's result as it arrives (before `on_done`), e.g. to keep
    it on disk so that an interrupted run can resume."""
    if backend == "local":
        return _run_local(fn, tasks, workers or default_workers(len(tasks)), on_done, on_result)
    if backend == "dask":
        return _run_dask(fn, tasks, scheduler, on_done, on_result)
    raise SynthguardError(f"unknown backend {backend!r} (one of {', '.join(BACKENDS)})")


def _run_local(fn: Callable[[T], R], tasks: Sequence[T], workers: int, on_done: Callable[[int, int], None] | None,
               on_result: Callable[[int, R], None] | None) -> list[R]:
    results: list[R] = []
    if workers == 1:
        iterator: Any = (fn(task) for task in tasks)
    else:
        from joblib import Parallel, delayed

        # loky processes; joblib limits each worker's BLAS/OpenMP threads to cores // workers
        iterator = Parallel(n_jobs=workers, backend="loky", return_as="generator")(delayed(fn)(t) for t in tasks)
    for result in iterator:  # in task order (joblib's generator keeps it)
        if on_result is not None:
            on_result(len(results), result)
        results.append(result)
        if on_done is not None:
            on_done(len(results), len(tasks))
    return results


def _run_dask(fn: Callable[[T], R], tasks: Sequence[T], scheduler: str | None,
              on_done: Callable[[int, int], None] | None, on_result: Callable[[int, R], None] | None) -> list[R]:
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise SynthguardError("the dask backend needs the cluster extra: pip install 'synthguard[cluster]'") from None
    if not scheduler:
        raise SynthguardError("the dask backend needs --scheduler tcp://HOST:PORT or a scheduler file path")
    kwargs = {"scheduler_file": scheduler} if os.path.isfile(scheduler) else {"address": scheduler}
    try:
        client = Client(timeout="10s", **kwargs)
    except OSError as err:
        raise SynthguardError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    try:
        futures = client.map(fn, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = future.result()
            if on_result is not None:
                on_result(index[future.key], results[index[future.key]])
            if on_done is not None:
                on_done(done, len(tasks))
        return results
    finally:
        client.close()
