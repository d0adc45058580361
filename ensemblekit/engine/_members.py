"""The member engine: plans in, fitted members out, packed into tasks and dispatched.

Every meta-estimator and validation tool is a plan (which rows, which features, which
weights, which seed for each member) plus a combiner. This module is the one place that
turns a plan into fitted members, so parallelism, thread limits, stacked training and
progress reporting are written once.

Pack, then dispatch: the plans are packed into tasks (a task trains one member, or several
members stacked as one model when the estimator can train that way), and the tasks run
through scikit-learn's ``Parallel`` under whatever ``joblib.parallel_config`` is active.
The engine knows nothing of nets: an estimator that can train several of its clones as
one model says so through two methods, ``stacking_blocker(X, y, plans, fit_params)`` and
``fit_stacked(members, X, y, plans, on_epoch=..., numbers=...)``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import joblib
import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import has_fit_parameter

from ..utils._allocator import training_allocator
from ..utils._fit_warnings import deferred_warnings, warn_for_members
from ..utils._mixins import abandon_member_fits, member_task
from ..utils._private import _safe_indexing
from ..utils._random import set_random_states
from ..utils._routing import rows_of_params
from ..utils._torch import torch_threads
from ._backends import backend_adapter
from ._progress import progress_bar
from ._threads import worker_threads

ENGINES = ("auto", "joblib", "vectorized")
# Each engine call's id: its members stop when the call is given up (see fit_members).
_CALLS = itertools.count()


@dataclass(frozen=True)
class MemberPlan:
    """What one member is fitted on.

    Parameters
    ----------
    seed : int
        Seeds every ``random_state`` of the member's clone (nested ones too).
    rows : ndarray of int or None, default=None
        Row indices into X (repeats allowed, as in a bootstrap); None takes all rows.
    features : ndarray of int or None, default=None
        Column indices into X (a random subspace); None takes all columns.
    sample_weight : ndarray of float or None, default=None
        The member's loss weights, aligned with ``rows`` (or with all rows).
    valid_rows : ndarray of int or None, default=None
        Row indices into X that the member's early stopping monitors (bagging gives each
        member its out-of-bag rows); passed to ``fit`` as ``X_val``, ``y_val``.
    sample_weight_val : ndarray of float or None, default=None
        Weights of the ``valid_rows``.
    params : dict or None, default=None
        Parameters set on the member's clone (``set_params``) before it is seeded: members
        of one call may differ in them (a search's candidates).

    See Also
    --------
    fit_members : the engine that fits one member per plan.

    Examples
    --------
    >>> import dataclasses
    >>> import numpy as np
    >>> from ensemblekit.engine import MemberPlan
    >>> plan = MemberPlan(seed=7, rows=np.array([0, 0, 3]), params={"max_depth": 2})
    >>> plan.seed, plan.rows.tolist(), plan.features
    (7, [0, 0, 3], None)
    >>> dataclasses.replace(plan, seed=8).seed  # plans are frozen: make a new one
    8
    """

    seed: int
    rows: np.ndarray | None = None
    features: np.ndarray | None = None
    sample_weight: np.ndarray | None = None
    valid_rows: np.ndarray | None = None
    sample_weight_val: np.ndarray | None = None
    params: dict | None = None

    def __post_init__(self):
        # Row indices as int32 when they fit: K plans of n rows are held for a whole fit.
        for name in ("rows", "valid_rows"):
            object.__setattr__(self, name, _compact_indices(getattr(self, name)))


def _compact_indices(rows):
    """Integer row indices as int32 when every one fits (half the memory of int64)."""
    if (
        isinstance(rows, np.ndarray)
        and rows.dtype.kind in "iu"
        and rows.itemsize > 4
        and (len(rows) == 0 or (rows.min() >= 0 and rows.max() < 2**31))
    ):
        return rows.astype(np.int32)
    return rows


def fit_members(
    estimator: BaseEstimator,
    X,
    y,
    plans: Sequence[MemberPlan],
    *,
    n_jobs: int | None = None,
    verbose: int = 0,
    fit_params: dict | None = None,
    reseed: str = "all",
    engine: str = "auto",
    on_fitted: Callable[[list[int], list[BaseEstimator]], None] | None = None,
    on_epoch_end: Callable[[list[int], list[BaseEstimator]], Sequence[int]] | None = None,
) -> list[BaseEstimator]:
    """Fit one clone of ``estimator`` per plan and return them in plan order.

    The plans are packed into tasks and the tasks run under whatever
    ``joblib.parallel_config`` is active (loky, threading, Dask, Ray), ``n_jobs`` at a time.
    Each member's result depends on its plan alone, so the same plans give the same
    members, bit for bit, for any ``n_jobs`` and backend. torch is limited to its share of
    the cores (``cpu_count // n_workers`` threads) in each worker, avoiding the
    oversubscription that makes two 2-thread workers on 2 cores several times slower than
    two 1-thread ones.

    Parameters
    ----------
    estimator : estimator
        Unfitted template; never modified.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    plans : sequence of MemberPlan
    n_jobs : int or None, default=None
        Parallel workers, as in joblib (None: 1 unless a ``parallel_config`` says otherwise).
    verbose : int, default=0
        > 0 shows a progress bar: over members, or over the epochs of stacked members.
    fit_params : dict or None, default=None
        Extra keyword arguments for every member's ``fit``; a value with one entry per
        row of X (groups, a second weight) is taken at the member's rows.
    reseed : {"all", "unset"}, default="all"
        "all" sets every ``random_state`` of each clone from its plan's seed (ensembles);
        "unset" only those left at None, so a learner the user seeded keeps its seed and
        members differ by their data alone (bias-variance rounds).
    engine : {"auto", "joblib", "vectorized"}, default="auto"
        "joblib": each task fits one member. "vectorized": each task trains its members
        stacked as one model (ensemblekit's nets: one ``baddbmm`` per layer for all of them
        with the MLP module, ``torch.func.vmap`` for any other), and there are as many
        tasks as workers; each member is the
        net its own fit would give, up to float rounding, with its history, optimizer
        state and early stopping. It applies when the estimator's ``stacking_blocker``
        returns None; "vectorized" raises a ValueError with the reason otherwise, "auto"
        stacks when it applies and fits one member per task otherwise.
    on_fitted : callable or None, default=None
        ``on_fitted(indices, members)`` is called in this process as each task's members
        come back, in the order the tasks finish: ``indices`` are their positions in
        ``plans``. A caller saves or scores members there while others still train.
        Backends that cannot hand results back one by one (multiprocessing, Ray) give them
        all when the last task ends. An exception it raises stops the call, as a member's
        error does.
    on_epoch_end : callable or None, default=None
        ``on_epoch_end(indices, members)`` is called after every epoch of stacked members
        with those still training (their weights current, the epoch in their history)
        and their positions in ``plans``; it returns the positions to stop there, as an
        early-stopped member stops (a search prunes a trial this way). Members trained
        one by one are not called. The members must train in this process: ``n_jobs=1``
        or a threading backend.

    Returns
    -------
    members : list of fitted estimators

    See Also
    --------
    MemberPlan : what each member is fitted on.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.engine import MemberPlan, fit_members
    >>> X, y = load_iris(return_X_y=True)
    >>> plans = [MemberPlan(seed=s, features=[0, 1]) for s in range(3)]
    >>> members = fit_members(DecisionTreeClassifier(), X, y, plans, n_jobs=2)
    >>> [m.n_features_in_ for m in members]
    [2, 2, 2]
    """
    plans = list(plans)
    _check_call(estimator, plans, reseed, engine)
    reason = (
        None if engine == "joblib" else stacking_reason(estimator, X, y, plans, fit_params, engine)
    )
    if verbose and reason is not None:
        print(f"The {len(plans)} members train one by one: {reason}.", file=sys.stderr)
    return run_plans(
        estimator, X, y, plans, stacked=engine != "joblib" and reason is None, n_jobs=n_jobs,
        verbose=verbose, fit_params=fit_params, only_unset=reseed == "unset",
        on_fitted=on_fitted, on_epoch_end=on_epoch_end,
    )  # fmt: skip


def _check_call(estimator, plans: list, reseed: str, engine: str) -> None:
    if reseed not in ("all", "unset"):
        raise ValueError(f"reseed must be 'all' or 'unset', got {reseed!r}.")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}.")
    if any(plan.sample_weight is not None for plan in plans) and not has_fit_parameter(
        estimator, "sample_weight"
    ):
        raise ValueError(
            f"{type(estimator).__name__}.fit does not take sample_weight, which this plan "
            "needs. Use an estimator that accepts sample_weight, or draw rows instead of "
            "weights."
        )
    if any(plan.valid_rows is not None for plan in plans) and not has_fit_parameter(
        estimator, "X_val"
    ):
        raise ValueError(
            f"{type(estimator).__name__}.fit does not take X_val, y_val, which this plan "
            "gives for early stopping. Leave valid_rows out of the plans."
        )


def run_plans(
    estimator, X, y, plans: list, *, stacked: bool, n_jobs=None, verbose=0, fit_params=None,
    only_unset=False, on_fitted=None, on_epoch_end=None,
) -> list:  # fmt: skip
    """:func:`fit_members` once the way its members train is known: pack the plans into
    tasks, dispatch them through the active backend's adapter, collect the members."""
    n_workers = max(1, min(joblib.effective_n_jobs(n_jobs), len(plans)))
    backend = backend_adapter(n_workers)
    if on_epoch_end is not None and not backend.in_process:
        raise ValueError(
            "on_epoch_end needs the members to train in this process: use n_jobs=1 or "
            "joblib.parallel_config(backend='threading')."
        )
    n_threads = worker_threads(n_workers)
    tasks, what = _pack(len(plans), n_workers, stacked)
    call = next(_CALLS)
    with progress_bar(verbose, len(plans), what, backend.in_process) as report:
        calls = [
            (
                estimator, [plans[i] for i in task], stacked, fit_params or {}, n_threads,
                os.getpid(), only_unset, report, call, number, backend.stop(),
                None if on_epoch_end is None else _InPlans(on_epoch_end, task), task,
            )
            for number, task in enumerate(tasks)
        ]  # fmt: skip
        results, notes = [None] * len(tasks), [None] * len(tasks)
        data = backend.data(X, y, stacked)
        # Threads share one torch thread pool: limit it here, for the call, in this process.
        try:
            with (
                torch_threads(n_threads if n_workers > 1 else None),
                contextlib.closing(backend.dispatch(_fit_task, data, calls, n_jobs, on_fitted))
                as outputs,
            ):  # fmt: skip
                for number, members, member_notes in outputs:
                    results[number], notes[number] = members, member_notes
                    if on_fitted is not None:
                        on_fitted(tasks[number], members)
        except BaseException:
            # Ctrl-C or a member's error: joblib stops waiting and shuts loky's workers
            # down, but threads cannot be killed, and Dask lets a running task run: the
            # members still training stop at their next batch instead of training on
            # unseen, and this process's threads are waited for (an interpreter that exits
            # with a thread inside torch aborts).
            backend.give_up()
            abandon_member_fits(call)
            raise
    # The members' warnings about their fits (diverged, not converged): one per kind.
    warn_for_members(estimator, [note for task in notes for note in task])
    return [member for members in results for member in members]


def _pack(n_plans: int, n_workers: int, stacked: bool) -> tuple[list[list[int]], str]:
    """The tasks (positions in the plans) and what they are, in words. Members' numbers
    do not depend on their stack-mates (tested bit for bit), so stacked members may be
    packed by the number of workers: one task per worker."""
    if not stacked:
        return [[i] for i in range(n_plans)], f"{n_plans} members"
    tasks = [list(part) for part in np.array_split(np.arange(n_plans), n_workers)]
    return tasks, f"{n_plans} members in {len(tasks)} stacked task{'s' * (len(tasks) > 1)}"


def stacking_reason(estimator, X, y, plans, fit_params, engine: str) -> str | None:
    """Why ``estimator``'s clones cannot train stacked (None: they can)."""
    blocker = getattr(estimator, "stacking_blocker", None)
    reason = (
        f"the members are {type(estimator).__name__}, which has no stacked training"
        if blocker is None
        else blocker(X, y, plans, fit_params)
    )
    if reason is not None and engine == "vectorized":
        raise ValueError(
            f"engine='vectorized' cannot train these members: {reason}. Use engine='auto' "
            "(which fits them one by one when they cannot be stacked) or engine='joblib'."
        )
    return reason


def _fit_task(
    data, estimator, plans, stacked, fit_params, n_threads, parent_pid, only_unset, report,
    call=None, number=0, stop=None, on_epoch_end=None, numbers=None,
):  # fmt: skip
    """One task: its members cloned, seeded and fitted, one by one or stacked.

    ``data`` is ``(X, y)`` or ``((X, y),)``. Returns ``(number, members, notes)``: the
    task's number tells the parent where its members go when tasks come back out of
    order, and ``notes[i]`` holds the fit warnings member ``i`` deferred.
    Module-level so that every joblib backend can ship it.
    """
    X, y = data[0] if len(data) == 1 else data
    # A worker process of its own (loky, Dask, Ray) runs the task with its torch share and
    # glibc's thresholds for training, then gives the worker back as it found it: Dask and
    # Ray workers are shared.
    worker = os.getpid() != parent_pid
    if not worker:
        stop = None  # sequential, or threads: the parent stops them itself
    with member_task(call, stop):
        with (
            torch_threads(n_threads if worker else None),
            training_allocator() if worker else contextlib.nullcontext(),
        ):
            members = [
                set_random_states(
                    clone(estimator).set_params(**(p.params or {})), p.seed, only_unset=only_unset
                )
                for p in plans
            ]
            if stacked:
                with deferred_warnings() as notes:
                    hook = {} if on_epoch_end is None else {"on_epoch_end": on_epoch_end}
                    members = estimator.fit_stacked(
                        members, X, y, plans, on_epoch=report, numbers=numbers, **hook
                    )
                owners = {id(member): i for i, member in enumerate(members)}
                by_member = [[] for _ in members]
                for note in notes:
                    by_member[owners.get(note.owner, 0)].append(note)
                return number, members, by_member
            by_member = []
            for member, plan in zip(members, plans, strict=True):
                with deferred_warnings() as notes:
                    _fit_one(member, X, y, plan, fit_params)
                by_member.append(notes)
                report(1.0)
        return number, members, by_member


class _InPlans:
    """A task's ``on_epoch_end``: the caller's, with the task's positions as positions in
    the plans of the whole call."""

    def __init__(self, on_epoch_end, task: list[int]):
        self.on_epoch_end, self.task = on_epoch_end, list(task)

    def __call__(self, positions: list[int], members: list) -> list[int]:
        stop = self.on_epoch_end([self.task[p] for p in positions], members) or ()
        where = {self.task[p]: p for p in positions}
        return [where[index] for index in stop if index in where]


def _fit_one(member, X, y, plan: MemberPlan, fit_params):
    """Fit one member on its rows and columns (and validation rows, for early stopping)."""
    fit_params = rows_of_params(fit_params, plan.rows, _num_rows(X))
    if plan.sample_weight is not None:
        fit_params["sample_weight"] = plan.sample_weight
    if plan.valid_rows is not None:
        fit_params["X_val"] = _member_X(X, plan.valid_rows, plan.features)
        fit_params["y_val"] = _safe_indexing(y, plan.valid_rows)
        if plan.sample_weight_val is not None:
            fit_params["sample_weight_val"] = plan.sample_weight_val
    y_m = y if plan.rows is None else _safe_indexing(y, plan.rows)
    # What fit returns is not kept: a learner whose fit returns None is still fitted.
    member.fit(_member_X(X, plan.rows, plan.features), y_m, **fit_params)


def _num_rows(X) -> int:
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _member_X(X, rows, features):
    if rows is not None:
        X = _safe_indexing(X, rows)
    return X if features is None else _safe_indexing(X, features, axis=1)
