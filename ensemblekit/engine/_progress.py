"""The progress bar of a fit: fed from tasks in this process or in joblib's workers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


def _silent(fraction: float) -> None:
    """The report of a silent fit (module-level, so every backend can ship it)."""


#: The bar counts in whole ticks of a member (fractions of a member summed as floats
#: drift past the total, and tqdm then warns and shows "8.0/8").
TICKS_PER_MEMBER = 100


class _Bar:
    """A tqdm bar over ``total`` members advanced by fractions of a member: it counts
    ticks, and shows the members finished as a whole number."""

    def __init__(self, bar, total: int):
        self.bar, self.total, self.done = bar, total, 0.0

    def advance(self, fraction: float) -> None:
        self.done += fraction
        ticks = min(round(self.done * TICKS_PER_MEMBER), self.total * TICKS_PER_MEMBER)
        if ticks > self.bar.n:
            members = ticks // TICKS_PER_MEMBER
            self.bar.unit = f"{members}/{self.total} members"  # shown by bar_format
            self.bar.update(ticks - self.bar.n)

    def close(self) -> None:
        self.bar.close()


class _LocalReport:
    """Advances the bar directly: tasks run in this process (sequential or threads)."""

    def __init__(self, bar: _Bar):
        self.bar, self.lock = bar, threading.Lock()

    def __call__(self, fraction: float) -> None:
        with self.lock:
            self.bar.advance(fraction)


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

    bar = _Bar(
        tqdm(
            total=total * TICKS_PER_MEMBER,
            desc=f"fitting {what}",
            bar_format="{l_bar}{bar}| {unit} [{elapsed}<{remaining}]",
            unit=f"0/{total} members",
        ),
        total,
    )
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
        bar.advance(fraction)
