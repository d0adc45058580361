"""The member engine: fit clones of one estimator from a plan, in parallel, through joblib.

Every meta-estimator and validation tool is a plan (which rows, which features, which
weights, which seed for each member) plus a combiner. This module is the one place that
turns a plan into fitted members, so parallelism, thread limits and progress reporting are
written once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import _safe_indexing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import has_fit_parameter

from ._random import set_random_states
from ._torch import torch_threads
from ._vectorized import fit_vectorized, vectorize_blocker

ENGINES = ("auto", "joblib", "vectorized")


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
    """

    seed: int
    rows: np.ndarray | None = None
    features: np.ndarray | None = None
    sample_weight: np.ndarray | None = None


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
    engine: str = "joblib",
) -> list[BaseEstimator]:
    """Fit one clone of ``estimator`` per plan and return them in plan order.

    The work runs under whatever ``joblib.parallel_config`` is active (loky, threading,
    Dask, Ray). Each member's result depends on its plan alone, so the same plans give the
    same members for any ``n_jobs`` and backend. torch is limited to its share of the cores
    (``cpu_count // n_workers`` threads), avoiding the oversubscription that makes two
    2-thread workers on 2 cores several times slower than two 1-thread ones.

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
        > 0 shows a progress bar over the members.
    fit_params : dict or None, default=None
        Extra keyword arguments for every member's ``fit``.
    reseed : {"all", "unset"}, default="all"
        "all" sets every ``random_state`` of each clone from its plan's seed (ensembles);
        "unset" only those left at None, so a learner the user seeded keeps its seed and
        members differ by their data alone (bias-variance rounds).
    engine : {"joblib", "auto", "vectorized"}, default="joblib"
        "joblib" fits each member on its own, in parallel. "vectorized" trains all members
        as one model with stacked weights, in this process; each member keeps its seed,
        initialisation, rows, features, shuffling, dropout masks and optimizer state, so
        a member is the net its own fit would give, up to float rounding. It applies when
        the members are ensemblekit nets with the MLP module, the default criterion, an
        element-wise optimizer (SGD, Adam, AdamW, RMSprop, Adagrad), no callbacks, early
        stopping, custom iterator or batch sampler; "vectorized" raises a ValueError that
        says which condition fails, "auto" uses it when it applies and joblib otherwise.
        The vectorized pass ignores ``n_jobs``: it uses the net's ``n_threads`` torch
        threads (or the GPU of its ``device``).

    Returns
    -------
    members : list of fitted estimators

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.utils import MemberPlan, fit_members
    >>> X, y = load_iris(return_X_y=True)
    >>> plans = [MemberPlan(seed=s, features=[0, 1]) for s in range(3)]
    >>> members = fit_members(DecisionTreeClassifier(), X, y, plans, n_jobs=2)
    >>> [m.n_features_in_ for m in members]
    [2, 2, 2]
    """
    plans = list(plans)
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
    if engine != "joblib":
        blocker = vectorize_blocker(estimator, fit_params)
        if blocker is None:
            return fit_vectorized(
                estimator, X, y, plans, only_unset=reseed == "unset", verbose=verbose
            )
        if engine == "vectorized":
            raise ValueError(
                f"engine='vectorized' cannot train these members: {blocker}. Use "
                "engine='auto' (which falls back to joblib) or engine='joblib'."
            )
    n_workers = max(1, min(joblib.effective_n_jobs(n_jobs), len(plans)))
    n_threads = max(1, joblib.cpu_count() // n_workers)
    tasks = (
        delayed(_fit_member)(
            estimator, X, y, plan, fit_params or {}, n_threads, os.getpid(), reseed == "unset"
        )
        for plan in plans
    )
    # Threads share one torch thread pool: limit it here, for the call, in this process.
    with torch_threads(n_threads if n_workers > 1 else None):
        results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
        if verbose:
            from tqdm.auto import tqdm

            results = tqdm(results, total=len(plans), desc="fitting members")
        return list(results)


def _fit_member(estimator, X, y, plan: MemberPlan, fit_params, n_threads, parent_pid, only_unset):
    """One member: clone, seed, subset, fit. Module-level so every joblib backend can ship it."""
    if os.getpid() != parent_pid:
        # A worker process of its own (loky, Dask, Ray): set its torch share for good.
        torch.set_num_threads(n_threads)
    member = set_random_states(clone(estimator), plan.seed, only_unset=only_unset)
    X_m, y_m = X, y
    if plan.rows is not None:
        X_m, y_m = _safe_indexing(X, plan.rows), _safe_indexing(y, plan.rows)
    if plan.features is not None:
        X_m = _safe_indexing(X_m, plan.features, axis=1)
    if plan.sample_weight is not None:
        fit_params = {**fit_params, "sample_weight": plan.sample_weight}
    return member.fit(X_m, y_m, **fit_params)
