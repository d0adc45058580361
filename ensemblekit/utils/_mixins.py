"""Conventions every estimator of the package shares: fits are all or nothing, and
classifiers have ``predict_log_proba``."""

from __future__ import annotations

import collections
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable, Iterator

import numpy as np

#: The id of the member engine's call fitting members in this thread (None outside one):
#: a net's ``on_interrupt="stop"`` then still raises, since a member that stopped early
#: would leave the ensemble half-trained.
fitting_members: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fitting_members", default=None
)
#: How a member training in another process learns that its engine call was given up
#: (its parent died, or the Dask client said stop): a callable that says so, or None.
stop_signal: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar(
    "stop_signal", default=None
)
#: Engine calls given up (Ctrl-C, or a member's error): members still training for them
#: in this process's threads stop at their next batch.
_abandoned: set[int] = set()
#: Tasks of each engine call running in this process, and a condition to wait for them.
_running: collections.Counter = collections.Counter()
_finished = threading.Condition()


def abandon_member_fits(call: int, *, timeout: float = 10.0) -> None:
    """Tell the members still training for engine call ``call`` to stop, and wait (up to
    ``timeout`` seconds) until its tasks in this process's threads have: a thread left
    inside torch while the interpreter exits aborts the process."""
    with _finished:
        _abandoned.add(call)
        _finished.wait_for(lambda: not _running[call], timeout=timeout)


@contextlib.contextmanager
def member_task(call: int, stopped: Callable[[], bool] | None = None) -> Iterator[None]:
    """Mark this thread as running a task of engine call ``call``: its members check
    :func:`check_member_fit` (and ``stopped``, the signal from a parent in another
    process) at every batch."""
    marked, signal = fitting_members.set(call), stop_signal.set(stopped)
    with _finished:
        _running[call] += 1
    try:
        check_member_fit()  # a task that starts after its call was given up
        yield
    finally:
        fitting_members.reset(marked)
        stop_signal.reset(signal)
        with _finished:
            _running[call] -= 1
            if not _running[call]:
                del _running[call]
            _finished.notify_all()


def check_member_fit() -> None:
    """Raise ``KeyboardInterrupt`` in a member whose engine call was given up."""
    call = fitting_members.get()
    stopped = stop_signal.get()
    if call is not None and (call in _abandoned or (stopped is not None and stopped())):
        raise KeyboardInterrupt("the ensemble fit that started this member was stopped")


def all_or_nothing(fit):
    """Make ``fit`` all or nothing: when it raises (a member's error, a diverged net,
    Ctrl-C), the estimator is left as it was before the call, unfitted or with its
    previous fitted state whole.

    The state is ``vars(self)``, as ``_fit_snapshot()`` copies it: a shallow copy by
    default, which suffices for a fit that assigns new attributes rather than changing
    fitted objects in place (the nets, which train in place, copy deeper).
    """

    @functools.wraps(fit)
    def guarded(self, *args, **kwargs):
        before = self._fit_snapshot() if hasattr(self, "_fit_snapshot") else dict(vars(self))
        try:
            return fit(self, *args, **kwargs)
        except BaseException:
            vars(self).clear()
            vars(self).update(before)
            raise

    return guarded


class PredictLogProbaMixin:
    """``predict_log_proba``: the log of ``predict_proba``, as scikit-learn's classifiers."""

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of the class probabilities (``-inf`` where a probability is 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
