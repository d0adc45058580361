"""How each joblib backend runs the engine's tasks: one small adapter per backend.

``fit_members`` plans and packs; an adapter then says how its backend moves the data,
dispatches the tasks and stops them when a fit is given up (Ctrl-C, a member's error).
A new backend is one class here and one line in :func:`backend_adapter`.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator

import joblib
from sklearn.utils.parallel import Parallel, delayed

from ._ray import on_ray, ray_tasks


class Backend:
    """The active joblib backend, as the engine drives it: tasks through scikit-learn's
    ``Parallel``; nothing to stop beyond what joblib does (sequential, threads)."""

    def __init__(self, backend, n_workers: int):
        self.backend = backend
        # Members train in this process: one worker, or threads.
        self.in_process = n_workers == 1 or getattr(backend, "uses_threads", False)

    def stop(self):
        """What a task's members read at every batch to learn the fit was given up, when
        joblib cannot tell them (None: the parent stops its own threads)."""
        return None

    def data(self, X, y, stacked: bool):
        """The data as the tasks receive it. Dask scatters a large argument to one worker
        and runs the tasks that use it there: right for many one-member tasks, but stacked
        tasks are one per worker, so each carries the data inside (a tuple, which is not
        scattered) and they run side by side."""
        return ((X, y),) if stacked else (X, y)

    def dispatch(self, task: Callable, data, calls: list, n_jobs, on_fitted) -> Iterator:
        """Each ``task(data, *call)``'s result, as the tasks end."""
        parallel = Parallel(**_parallel(on_fitted, n_jobs, len(calls)))
        yield from parallel(delayed(task)(data, *call) for call in calls)

    def give_up(self) -> None:
        """Tell the tasks still running that the fit was given up."""


class Processes(Backend):
    """loky and multiprocessing: the workers are this process's children; one whose
    parent is gone ends, instead of training on for no one."""

    def __init__(self, backend, n_workers: int):
        super().__init__(backend, n_workers)
        self._stop = ParentGone(os.getpid())

    def stop(self):
        return self._stop


class Dask(Backend):
    """Dask runs a task to its end once started, even when the client gives up: the
    members listen to an event the client sets instead."""

    def __init__(self, backend, n_workers: int):
        super().__init__(backend, n_workers)
        self._stop = DaskStop(f"ensemblekit-stop-{uuid.uuid4().hex}")

    def stop(self):
        return self._stop

    def give_up(self) -> None:
        self._stop.set(self.backend.client)


class Ray(Backend):
    """Ray: the tasks go to the workers Ray keeps started (see ``_ray.py``), not to a new
    pool of actors per call; the data goes to Ray's object store once."""

    def dispatch(self, task: Callable, data, calls: list, n_jobs, on_fitted) -> Iterator:
        if self.in_process:
            return super().dispatch(task, data, calls, n_jobs, on_fitted)
        return ray_tasks(task, data, calls)


def backend_adapter(n_workers: int) -> Backend:
    """The adapter of the active joblib backend, for a call with ``n_workers``."""
    backend = joblib.parallel.get_active_backend()[0]
    if type(backend).__module__.startswith("joblib._dask"):
        return Dask(backend, n_workers)
    if on_ray(backend):
        return Ray(backend, n_workers)
    if type(backend).__name__ in ("LokyBackend", "MultiprocessingBackend"):
        return Processes(backend, n_workers)
    return Backend(backend, n_workers)


def _parallel(on_fitted, n_jobs, n_tasks: int) -> dict:
    """``Parallel``'s arguments: it returns task by task when someone waits for them.

    Backends that cannot (multiprocessing, Ray) return all at once, except with one
    worker, where joblib runs the tasks in this process anyway and sequentially can.
    """
    if on_fitted is None or n_tasks == 1:
        return {"n_jobs": n_jobs}
    if joblib.parallel.get_active_backend()[0].supports_return_generator:
        return {"n_jobs": n_jobs, "return_as": "generator_unordered"}
    if joblib.effective_n_jobs(n_jobs) == 1:
        return {"n_jobs": 1, "backend": "sequential", "return_as": "generator_unordered"}
    return {"n_jobs": n_jobs}


class ParentGone:
    """Ends this worker process once the process that started it is gone (killed, say),
    before its task or at a member's next batch: nothing can receive its members, and
    loky would keep an orphan idle for minutes."""

    def __init__(self, parent_pid: int):
        self.parent_pid = parent_pid

    def __call__(self) -> bool:
        if os.getppid() != self.parent_pid:
            os._exit(1)
        return False


class DaskStop:
    """A Dask event the client sets when it gives a fit up; members read it at most every
    half second (each read asks the scheduler)."""

    def __init__(self, name: str):
        self.name, self.next_read, self.stopped = name, 0.0, False

    def set(self, client) -> None:
        from distributed import Event

        try:
            Event(self.name, client=client).set()
        except Exception:  # a cluster already gone has no task to stop
            pass

    def __call__(self) -> bool:
        if not self.stopped and time.monotonic() >= self.next_read:
            from distributed import Event

            self.next_read = time.monotonic() + 0.5
            try:
                self.stopped = Event(self.name).is_set()
            except Exception:  # a scheduler out of reach: train on, as without the event
                self.stopped = False
        return self.stopped
