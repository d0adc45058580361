"""The progress bar of a fit: fed from tasks in this process or in joblib's workers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


def _silent(fraction: float) -> None:
    """The report of a silent fit (module-level, so every backend can ship it)."""


class _LocalReport:
    """Advances the bar directly: tasks run in this process (sequential or threads)."""

    def __init__(self, bar):
        self.bar, self.lock = bar, threading.Lock()

    def __call__(self, fraction: float) -> None:
        with self.lock:
            self.bar.update(fraction)


class _QueueReport:
    """Sends progress to the parent through a manager's queue: tasks in other processes."""

    def __init__(self, queue):
        self.queue = queue

    def __call__(self, fraction: float) -> None:
        try:
            self.queue.put(fraction)
        except (OSError, EOFError):  # a worker that cannot reach the parent keeps quiet
            pass


@contextlib.contextmanager
def progress_bar(verbose: int, total: int, what: str, in_process: bool) -> Iterator:
    """A ``report(fraction)`` callable for the tasks: ``fraction`` of a member is done.

    With ``verbose`` a tqdm bar over ``total`` members, described by ``what``, advances as
    members (or epochs of stacked members) finish, in whichever process they run.
    """
    if not verbose:
        yield _silent
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=f"fitting {what}", unit="member")
    bar.bar_format = "{l_bar}{bar}| {n:.1f}/{total} members [{elapsed}<{remaining}]"
    if in_process:
        try:
            yield _LocalReport(bar)
        finally:
            bar.close()
        return
    import multiprocessing

    with multiprocessing.Manager() as manager:
        queue = manager.Queue()
        reader = threading.Thread(target=_drain, args=(queue, bar), daemon=True)
        reader.start()
        try:
            yield _QueueReport(queue)
        finally:
            queue.put(None)
            reader.join()
            bar.close()


def _drain(queue, bar) -> None:
    while (fraction := queue.get()) is not None:
        bar.update(fraction)
