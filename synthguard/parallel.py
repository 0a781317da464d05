"""Where shadow trainings run: in this process, in local worker processes, or on a Dask cluster.

Every backend runs the same function on the same tasks and returns results in task order; each
task seeds itself and uses one torch thread, so the results are identical whichever runs them.

Tasks in other processes run wrapped (`_Task`): the warnings a task raises are recorded there and
raised again here, once each, so that they reach the caller's warning filters (the CLI shows them
as one line) instead of the worker's stderr; and a local worker watches its parent, exiting within
about a second of the parent's death (a killed audit leaves no orphaned worker training on).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

from .errors import SynthguardError

T = TypeVar("T")
R = TypeVar("R")
BACKENDS = ("local", "dask")
#: how long the dask backend waits for its scheduler before saying it cannot reach it
DASK_CONNECT_TIMEOUT = "10s"
PARENT_POLL_SECONDS = 0.5
_watching: int | None = None  # in a worker: the parent pid its watchdog thread watches
_held = threading.local()  # per thread: where workers' warnings go instead of `warnings.warn`


def _watch_parent(parent: int) -> None:
    """In a worker process: start (once) a daemon thread that ends the process as soon as its parent
    is gone (the worker is re-parented, so `os.getppid()` changes)."""
    global _watching
    if _watching == parent or os.getpid() == parent:
        return
    _watching = parent

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(1)  # no cleanup to run: the parent that wanted the result is dead
            time.sleep(PARENT_POLL_SECONDS)

    threading.Thread(target=watch, name="synthguard-parent-watch", daemon=True).start()


class _Task(Generic[T, R]):
    """`fn` as run in another process: returns (result, warnings as (module, class, message))."""

    def __init__(self, fn: Callable[[T], R], parent: int | None) -> None:
        self.fn, self.parent = fn, parent

    def __call__(self, task: T) -> tuple[R, list[tuple[str, str, str]]]:
        if self.parent is not None:
            _watch_parent(self.parent)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            result = self.fn(task)
        return result, [(w.category.__module__, w.category.__qualname__, str(w.message)) for w in caught]


def _warning_class(module: str, name: str) -> type[Warning]:
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return UserWarning
    return found if isinstance(found, type) and issubclass(found, Warning) else UserWarning


class _Rewarn:
    """Raises a worker's warnings again in this process, each distinct one once per run."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, str]] = set()

    def __call__(self, caught: list[tuple[str, str, str]]) -> None:
        for item in caught:
            if item not in self.seen:
                self.seen.add(item)
                held = getattr(_held, "warnings", None)
                if held is not None:
                    held.append((_warning_class(item[0], item[1]), item[2]))
                else:
                    warnings.warn(item[2], _warning_class(item[0], item[1]), stacklevel=2)


@contextlib.contextmanager
def holding_warnings() -> Iterator[list[tuple[type[Warning], str]]]:
    """In this thread, keep the warnings that tasks raise in other processes in the list yielded
    (category, message), instead of raising them. For tasks run from a thread of their own: the
    warnings module's filters belong to the whole process, so a warning raised in that thread while
    another thread has them switched off for a moment would be lost; the caller raises the kept
    ones in its own thread afterwards."""
    held: list[tuple[type[Warning], str]] = []
    before = getattr(_held, "warnings", None)
    _held.warnings = held
    try:
        yield held
    finally:
        _held.warnings = before


def default_workers(n_tasks: int) -> int:
    return max(1, min(os.cpu_count() or 1, n_tasks))


def in_this_process(backend: str, workers: int | None, n_tasks: int) -> bool:
    """Whether `run_tasks` runs its tasks in this process (one local worker) rather than in others."""
    return backend == "local" and (workers or default_workers(n_tasks)) == 1


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
        # each worker watches this process from its start (idle workers too: loky's initializer)
        parent = os.getpid()
        wrapped, rewarn = _Task(fn, parent), _Rewarn()
        parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator", initializer=_watch_parent,
                            initargs=(parent,))
        iterator = (_unwrap(item, rewarn) for item in parallel(delayed(wrapped)(t) for t in tasks))
    for result in iterator:  # in task order (joblib's generator keeps it)
        if on_result is not None:
            on_result(len(results), result)
        results.append(result)
        if on_done is not None:
            on_done(len(results), len(tasks))
    return results


def _unwrap(item: tuple[R, list[tuple[str, str, str]]], rewarn: _Rewarn) -> R:
    result, caught = item
    rewarn(caught)
    return result


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
        client = Client(timeout=DASK_CONNECT_TIMEOUT, **kwargs)
    except OSError as err:
        raise SynthguardError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from None
    try:
        rewarn = _Rewarn()
        futures = client.map(_Task(fn, None), list(tasks), pure=False)  # no parent watch: remote workers
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[Any] = [None] * len(tasks)
        for done, future in enumerate(as_completed(futures), start=1):
            results[index[future.key]] = _unwrap(future.result(), rewarn)
            if on_result is not None:
                on_result(index[future.key], results[index[future.key]])
            if on_done is not None:
                on_done(done, len(tasks))
        return results
    finally:
        client.close()
