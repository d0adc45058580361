"""Candidates x folds: what a hyper-parameter search trains, planned and fitted once.

Every stacked search (grid and random, halving, Optuna) trains its candidates on its
folds here: the candidates are grouped by what their members must share, each group's
candidate x fold plans are built, the estimator is asked once whether the group can
train stacked, and ``fit_members`` trains the group. The searches keep only what is
theirs: which candidates, and what to do with the members.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sklearn.base import BaseEstimator, clone

from ._members import MemberPlan, run_plans, stacking_reason


@dataclass
class CandidateFits:
    """What :func:`fit_candidates` trained.

    Attributes
    ----------
    members : dict of (int, int) to estimator
        The fitted member of each (candidate, fold), by the candidate's position in
        ``candidates`` and the fold's in ``splits``.
    groups : list of dict
        Per group of candidates that share what stacked members must share: ``params``
        (those shared values), ``n_fits``, ``stacked``, ``reason`` (why the group did not
        train stacked, or None) and ``seconds`` (None for a group that did not train).
    invalid : dict of int to Exception
        The candidates whose fit cannot start (an invalid setting), and why. They are
        not trained.

    See Also
    --------
    fit_candidates : the function that returns it.

    Examples
    --------
    >>> from ensemblekit.engine import CandidateFits
    >>> fits = CandidateFits()
    >>> fits.members, fits.groups, fits.invalid
    ({}, [], {})
    """

    members: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)
    invalid: dict = field(default_factory=dict)


def stacks_apart(estimator, name: str) -> bool:
    """Whether members of ``estimator`` trained stacked may differ in ``name`` (the
    estimator's ``stacks_apart``; an estimator without stacked training: never)."""
    method = getattr(estimator, "stacks_apart", None)
    return bool(method is not None and method(name))


def shared_params(estimator, candidate: dict) -> dict:
    """The candidate's parameters that stacked members of ``estimator`` must share.

    One group of a search trains the candidates that agree on these; they may differ in
    the rest (for the nets: ``lr`` and ``optimizer__*``, as their ``stacks_apart`` says).
    An estimator without stacked training shares every parameter.

    Parameters
    ----------
    estimator : estimator
    candidate : dict
        Parameter name to value.

    Returns
    -------
    shared : dict
        Sorted by name.

    See Also
    --------
    fit_candidates : trains the groups.

    Examples
    --------
    >>> from ensemblekit.engine import shared_params
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> shared_params(NeuralNetClassifier(), {"lr": 0.1, "module__hidden_units": (32,)})
    {'module__hidden_units': (32,)}
    """
    return {k: v for k, v in sorted(candidate.items()) if not stacks_apart(estimator, k)}


def fit_candidates(
    estimator: BaseEstimator,
    X,
    y,
    candidates: Sequence[dict],
    splits: Sequence[tuple],
    seeds: Sequence[int],
    *,
    which: Sequence[int] | None = None,
    folds: Sequence[int] | None = None,
    n_jobs: int | None = None,
    verbose: int = 0,
    engine: str = "auto",
    on_epoch_end: Callable | None = None,
    on_invalid: Callable[[int, Exception], None] | None = None,
    on_error: Callable[[list[int], Exception], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> CandidateFits:
    """Train every candidate on every fold, grouped and stacked where the estimator can.

    The candidates are grouped by the parameters their members must share (for
    ensemblekit's nets, all but ``lr`` and ``optimizer__*``: see ``stacks_apart``). Per
    group, a candidate whose fit cannot start (``estimator.startup_error``) is set aside,
    the candidate x fold plans are built (fold ``f``'s member trains on ``splits[f][0]``
    with seed ``seeds[f]`` where the estimator's ``random_state`` is unset), the
    estimator's ``stacking_blocker`` is asked once, and :func:`fit_members` trains them:
    stacked, or one member per task with the reason recorded.

    Parameters
    ----------
    estimator : estimator
        Unfitted template; never modified.
    X, y : array-like
    candidates : sequence of dict
        Parameter settings, as a search's ``ParameterGrid`` gives them.
    splits, seeds : sequence of (train, test) index arrays, sequence of int (one per split)
    which, folds : sequence of int or None, default=None
        The candidates and the folds to train (None: all); keys keep their positions.
    n_jobs, verbose : as in :func:`fit_members`
    engine : {"auto", "vectorized"}, default="auto"
        "vectorized": a group that cannot train stacked raises the reason.
    on_epoch_end : callable or None, default=None
        ``on_epoch_end(keys, members)`` after every epoch of stacked members, with their
        (candidate, fold) keys; returns the keys to stop (a search prunes a trial).
    on_invalid, on_error : callable or None, default=None
        ``on_invalid(candidate, error)`` for a candidate that cannot start;
        ``on_error(candidates, error)`` when a group's training raises (None: the group's
        record keeps the error). Either may raise, to stop the search.
    say : callable or None, default=None
        Receives a line on how each group trained.

    Returns
    -------
    fits : CandidateFits

    See Also
    --------
    fit_members : the engine under it.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import KFold
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.engine import fit_candidates
    >>> X, y = load_iris(return_X_y=True)
    >>> splits = list(KFold(3, shuffle=True, random_state=0).split(X))
    >>> fits = fit_candidates(DecisionTreeClassifier(), X, y,
    ...                       [{"max_depth": 1}, {"max_depth": 3}], splits, [0, 1, 2])
    >>> sorted(fits.members)[:3], len(fits.groups)
    ([(0, 0), (0, 1), (0, 2)], 2)
    """
    if engine not in ("auto", "vectorized"):
        raise ValueError(f"engine must be 'auto' or 'vectorized', got {engine!r}.")
    which = list(range(len(candidates)) if which is None else which)
    folds = list(range(len(splits)) if folds is None else folds)
    fits = CandidateFits()
    for shared, group in _groups(estimator, candidates, which):
        base = clone(estimator).set_params(**shared)
        first = MemberPlan(seed=seeds[0], rows=splits[0][0])
        group = _startable(
            base, X, y, shared, candidates, group, first, len(folds), fits, on_invalid, say
        )
        if not group:
            continue
        keys = [(c, fold) for c in group for fold in folds]
        plans = [
            MemberPlan(
                seed=seeds[fold], rows=splits[fold][0],
                params={k: v for k, v in candidates[c].items() if stacks_apart(estimator, k)},
            )
            for c, fold in keys
        ]  # fmt: skip
        _train_group(
            base, X, y, shared, keys, plans, fits, n_jobs=n_jobs, verbose=verbose,
            engine=engine, on_epoch_end=on_epoch_end, on_error=on_error, say=say,
            what=f"{len(group)} candidates x {len(folds)} folds",
        )  # fmt: skip
    return fits


def _groups(estimator, candidates, which) -> list[tuple[dict, list[int]]]:
    """The candidates grouped by what stacked members must share, in order of first
    appearance (compared by repr: values may be lists, which do not hash)."""
    groups: dict[str, tuple[dict, list[int]]] = {}
    for index in which:
        shared = shared_params(estimator, candidates[index])
        groups.setdefault(repr(shared), (shared, []))[1].append(index)
    return list(groups.values())


def _startable(base, X, y, shared, candidates, group, first, n_fits, fits, on_invalid, say):
    """The group's candidates whose fit can start; the others go to ``fits.invalid``."""
    if not hasattr(base, "startup_error"):
        return group
    for c in group:
        error = clone(base).set_params(**candidates[c]).startup_error(X, y, first)
        if error is not None:
            fits.invalid[c] = error
            if on_invalid is not None:
                on_invalid(c, error)
    invalid = [c for c in group if c in fits.invalid]
    if invalid:
        error = fits.invalid[invalid[0]]
        if say is not None:
            say(
                f"{len(invalid)} of {len(group)} candidates cannot start a fit, left to the "
                f"search loop's error_score: {error}"
            )
        if len(invalid) == len(group):
            fits.groups.append(_record(shared, len(invalid) * n_fits, False, str(error), None))
    return [c for c in group if c not in fits.invalid]


def _train_group(
    base, X, y, shared, keys, plans, fits, *, n_jobs, verbose, engine, on_epoch_end,
    on_error, say, what,
) -> None:  # fmt: skip
    """Train one group's plans, asking once whether they stack, and record how."""
    label = ", ".join(f"{k}={v!r}" for k, v in shared.items()) or "all candidates"
    start = time.perf_counter()
    try:
        reason = stacking_reason(base, X, y, plans, None, engine)
        members = run_plans(
            base, X, y, plans, stacked=reason is None, n_jobs=n_jobs, verbose=verbose,
            only_unset=True,
            on_epoch_end=None if on_epoch_end is None else _ByKey(on_epoch_end, keys),
        )  # fmt: skip
    except Exception as error:
        if on_error is not None:
            on_error(sorted({c for c, _ in keys}), error)
        if say is not None:
            say(f"{label}: {what} fitted one by one in the search loop: {error}")
        fits.groups.append(_record(shared, len(plans), False, str(error), None))
        return
    seconds = time.perf_counter() - start
    if say is not None:
        how = "stacked" if reason is None else f"one by one ({reason})"
        say(f"{label}: {what} trained {how} in {seconds:.1f} s")
    fits.groups.append(_record(shared, len(plans), reason is None, reason, seconds))
    fits.members.update(zip(keys, members, strict=True))


class _ByKey:
    """``on_epoch_end`` in (candidate, fold) keys, for the engine's plan positions."""

    def __init__(self, on_epoch_end, keys: list):
        self.on_epoch_end, self.keys = on_epoch_end, keys

    def __call__(self, indices: list[int], members: list) -> list[int]:
        stop = set(self.on_epoch_end([self.keys[i] for i in indices], members) or ())
        return [i for i in indices if self.keys[i] in stop]


def _record(shared, n_fits, stacked, reason, seconds) -> dict:
    return {"params": shared, "n_fits": n_fits, "stacked": stacked, "reason": reason,
            "seconds": seconds}  # fmt: skip
