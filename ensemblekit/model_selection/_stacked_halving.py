"""Successive halving of net candidates, each round's fits trained as stacked models.

scikit-learn's halving searches run the rounds: all candidates on a small resource, the
best third on three times as much, and so on. Here each round's candidates x folds train
through the member engine, stacked, before the search's loop scores them; the rounds,
the elimination, ``cv_results_`` and the refit are scikit-learn's own. The resource is a
net's ``max_epochs`` by default (or ``n_samples``, or any integer parameter of the net).
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from numbers import Real
from typing import ClassVar

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV
from sklearn.pipeline import Pipeline

from ..engine import fit_candidates
from ..metrics import scorer_names
from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._private import Interval, StrOptions
from ._stacked_search import _SHARED_DOC, _fold_rows, _StackedSearchMixin

#: Each round keeps 1 / factor of the candidates and gives them factor times the resource,
#: so factor must exceed 1 (scikit-learn admits (0, 1], then divides by log(1) = 0).
_FACTOR = [Interval(Real, 1, None, closed="neither")]


class _StackedHalvingMixin(_StackedSearchMixin):
    def _check_input_parameters(self, X, y, split_params):
        """scikit-learn's checks, with ``max_resources="auto"`` for a parameter of the net
        read as the net's own value (scikit-learn's "auto" is the number of rows, for
        n_samples only); ``max_resources`` itself is left as given."""
        if self.max_resources != "auto" or self.resource == "n_samples":
            return super()._check_input_parameters(X, y, split_params)
        checked = copy.copy(self)
        checked.max_resources = self._most_resources()
        super(_StackedHalvingMixin, checked)._check_input_parameters(X, y, split_params)
        self.min_resources_, self.max_resources_ = checked.min_resources_, checked.max_resources_
        return None

    def _most_resources(self) -> int:
        params = self.estimator.get_params()
        if self.resource not in params:
            what = type(self.estimator).__name__
            if isinstance(self.estimator, Pipeline):
                name = self.estimator.steps[-1][0]
                fix = f"name the net's, resource='{name}__{self.resource}', or use"
            elif isinstance(self.estimator, NeuralNetClassifier | NeuralNetRegressor):
                fix = "use resource='max_epochs' (the default) or"
            else:
                fix = "name an integer parameter of it, or use"
            raise ValueError(
                f"resource={self.resource!r} is not a parameter of {what}: {fix} "
                "resource='n_samples' (more rows each round)."
            )
        value = params.get(self.resource)
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"resource={self.resource!r} needs an integer {self.resource} on the "
                f"estimator (the most any round trains with), got {value!r}: set it, or pass "
                "max_resources as an int."
            )
        return int(value)

    def _search_rounds(self, evaluate, fold_seeds, random_state, context):
        """scikit-learn's rounds, each through ``evaluate``; over epochs, one stacked run
        in which the survivors of a round train on (see ``_ContinuedRounds``)."""
        rounds = super(_StackedSearchMixin, self)._run_search
        if not self._continues():
            return rounds(evaluate, **context)
        trainer = _ContinuedRounds(self, evaluate, fold_seeds)
        try:
            return rounds(trainer.evaluate, **context)
        finally:
            trainer.close()

    def _continues(self) -> bool:
        """Whether a round's survivors may train on instead of starting again: the resource
        is the net's epochs, and a net trained r epochs within a longer run is the net
        trained for r epochs (no early stopping, no callbacks of the user's, which may
        depend on max_epochs), and the candidates differ only in what stacks together."""
        grids = self.param_grid if hasattr(self, "param_grid") else self.param_distributions
        names = {name for grid in (grids if isinstance(grids, list) else [grids]) for name in grid}
        return (
            self.resource == "max_epochs"
            and joblib.effective_n_jobs(self.n_jobs) == 1
            and not getattr(self.estimator, "early_stopping", True)
            and not self.estimator.callbacks
            and all(self.estimator.stacks_apart(name) for name in names)
        )


class _ContinuedRounds:
    """The rounds of a halving search over epochs as one stacked run: every candidate x
    fold starts training once, up to the most epochs; at the end of round i's epochs the
    run pauses, a copy of each member is handed to the search loop (which scores the
    round, as scikit-learn's halving does), and only the members of the candidates the
    loop sends to the next round train on. Folds of different sizes train as stacks of
    their own, each in a thread, paused in the engine's ``on_epoch_end`` while the loop
    decides.

    A net trained r epochs within a longer run is the net trained for r epochs: the same
    batches, the same steps. So the rounds score what scikit-learn's search would, for a
    fraction of the member-epochs. Where the members cannot train so (a stacking blocker,
    or too little memory for a stack of one fold size), every round trains on its own as
    in scikit-learn.
    """

    def __init__(self, search, evaluate, fold_seeds):
        self.search, self.evaluate_round, self.fold_seeds = search, evaluate, fold_seeds
        self.runs, self.on_its_own = [], False

    def evaluate(self, candidates, cv=None, more_results=None, **kwargs):
        """One round: train on to its epochs, hand the members over, let the loop score."""
        candidates = [dict(c) for c in candidates]
        epochs = candidates[0]["max_epochs"]
        if not self.runs and not self.on_its_own:
            self._start(candidates, cv)
        elif not self.on_its_own:
            keep = {self.candidates.index(_without_epochs(c)) for c in candidates}
            for run in self.runs:
                run.orders.put(("continue", keep, epochs))
        if self.on_its_own:
            return self.evaluate_round(candidates, cv, more_results, **kwargs)
        start, copies = time.perf_counter(), {}
        replies = [run.replies.get() for run in self.runs]
        failed = [payload for kind, payload in replies if kind == "error"]
        if failed or any(kind == "split" for kind, _ in replies):
            # A run that failed, or too little memory for one stack: round by round, where
            # a group that cannot train stacked falls back to the search loop's own fits.
            self.close()
            self.on_its_own = True
            why = f"the stacked run failed: {failed[0]}" if failed else "memory is short"
            self.search._say(f"every round trains from the start: {why}")
            return self.evaluate_round(candidates, cv, more_results, **kwargs)
        for _, payload in replies:
            copies.update(payload)
        self.search.stacked_groups_.append({
            "params": {"max_epochs": epochs}, "n_fits": len(copies), "stacked": True,
            "reason": None, "seconds": time.perf_counter() - start,
        })  # fmt: skip
        plain = [_without_epochs(c) for c in candidates]
        for (index, fold), member in copies.items():
            candidate = candidates[plain.index(self.candidates[index])]
            self.waiting.add(candidate, *self.rows[fold], member)
        return self.evaluate_round(candidates, cv, more_results, adopt_only=True, **kwargs)

    def _start(self, candidates, cv):
        search = self.search
        X, y, groups, self.waiting, _ = search._stacking
        self.candidates = [_without_epochs(c) for c in candidates]
        splits = list(cv.split(X, y, groups=groups))
        self.rows = _fold_rows(X, y, splits)
        seeds = self.fold_seeds(self.rows)
        base = clone(search.estimator).set_params(max_epochs=search.max_resources_)
        by_size = {}  # members train in lockstep on folds of one size
        for fold, (train, _) in enumerate(splits):
            by_size.setdefault(len(train), []).append(fold)
        for folds in by_size.values():
            run = _Run(len(self.candidates) * len(folds), candidates[0]["max_epochs"])
            run.start(base, X, y, self.candidates, splits, seeds, folds)
            self.runs.append(run)

    def close(self):
        """End the runs (the search has its rounds, or stopped) and wait for them."""
        for run in self.runs:
            run.close()


class _Run:
    """One stack of a halving search over epochs, training in a thread of its own and
    pausing at each round's epochs for the loop's word on who trains on."""

    def __init__(self, n_members: int, target: int):
        self.n_members, self.target = n_members, target
        self.orders, self.replies = queue.Queue(), queue.Queue()
        self.stopping, self.rounds, self.thread = False, 0, None

    def start(self, base, X, y, candidates, splits, seeds, folds) -> None:
        self.thread = threading.Thread(
            target=self._train, args=(base, X, y, candidates, splits, seeds, folds), daemon=True
        )
        self.thread.start()

    def _train(self, base, X, y, candidates, splits, seeds, folds):
        def invalid(candidate, error):  # left to the search loop, which scores it
            self.n_members -= len(folds)

        try:
            fit_candidates(
                base, X, y, candidates, splits, seeds, folds=folds, n_jobs=1,
                engine="vectorized", on_epoch_end=self._on_epoch_end, on_invalid=invalid,
                on_error=_raise,
            )  # fmt: skip
        except BaseException as error:  # the loop waiting for a round raises it
            self.replies.put(("error", error))
        else:
            self.replies.put(("error", RuntimeError("the stacked run ended before the round")))

    def _on_epoch_end(self, keys, members):
        """At a round's epochs: copies of the members for the loop, then the loop's word
        on who trains on (a round may repeat the epochs: aggressive elimination). ``keys``
        are the members' (candidate, fold)."""
        epoch, keep = len(members[0].history), None
        if self.stopping:
            return list(keys)
        if epoch == self.target and not self.rounds and len(keys) < self.n_members:
            self.stopping = True  # the memory guard split the members into stacks
            self.replies.put(("split", None))
            return list(keys)
        while epoch == self.target:
            copies = {
                key: _snapshot(member, epoch)
                for key, member in zip(keys, members, strict=True)
                if keep is None or key[0] in keep
            }
            self.replies.put(("round", copies))
            self.rounds += 1
            order = self.orders.get()
            if order[0] == "stop":
                return list(keys)
            _, keep, self.target = order
        return [] if keep is None else [key for key in keys if key[0] not in keep]

    def close(self) -> None:
        self.stopping = True
        if self.thread is not None and self.thread.is_alive():
            self.orders.put(("stop",))
            self.thread.join()


def _snapshot(member, epochs: int):
    """A copy of a member in training, as the fit of ``max_epochs=epochs`` leaves it."""
    snapshot = copy.deepcopy(member)
    snapshot.max_epochs = epochs
    for name in ("_shuffle", "_watch"):  # the run's own, which a finished fit lets go
        vars(snapshot).pop(name, None)
    return snapshot


def _raise(group, error):
    raise error


def _without_epochs(candidate: dict) -> dict:
    return {k: v for k, v in candidate.items() if k != "max_epochs"}


_HALVING_DOC = """
    Each round's candidates are trained on every fold before the search's loop scores
    them. With the default ``resource="max_epochs"``, round ``i`` trains the candidates
    left for ``min_resources_ * factor**i`` epochs, up to ``max_resources`` (by default
    the estimator's ``max_epochs``); ``resource="n_samples"`` gives each round more rows
    instead, as scikit-learn's default does. The scores, the elimination and
    ``cv_results_`` (with its ``iter`` and ``n_resources`` columns) agree with
    scikit-learn's search over the same nets, folds and seeds; ``best_params_`` includes
    the resource.

    Over epochs, the rounds are one stacked run: the survivors of a round train on from
    where they are, with their weights and optimizer state, and the others stop, so a
    candidate that reaches 9 epochs has trained 9 epochs, not 1 + 3 + 9. A net trained 9
    epochs within a longer run is the net trained for 9 epochs, so the scores are the
    same. This holds for a net without early stopping or callbacks of the user's (which
    may depend on ``max_epochs``), candidates that differ only in ``lr`` and
    ``optimizer__*``, and ``n_jobs=1``; otherwise each round's fits start from scratch,
    as in scikit-learn's halving search.
"""


class StackedHalvingGridSearchCV(_StackedHalvingMixin, HalvingGridSearchCV):
    """Successive halving over a grid of net parameters, each round's fits trained as
    stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.HalvingGridSearchCV`, with ``resource="max_epochs"``
    and ``max_resources="auto"`` (the estimator's ``max_epochs``) by default.
    {halving}{shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier, NeuralNetRegressor, or a Pipeline ending in one
    param_grid : dict or list of dicts
    factor : int or float, default=3
        The proportion of candidates kept each round is ``1 / factor``, and the
        resource grows by ``factor``.
    resource : str, default="max_epochs"
        "max_epochs", "n_samples", or another integer parameter of the estimator.
    max_resources : int or "auto", default="auto"
        The most resource a candidate gets: "auto" is the estimator's own value of the
        resource (the number of rows for "n_samples").
    min_resources : int, "exhaust" or "smallest", default="exhaust"
        The resource of the first round, as in scikit-learn.
    aggressive_elimination : bool, default=False
    cv : int, cross-validation generator or iterable, default=5
        It must give the same folds at every call (an int, or a splitter with an int
        ``random_state``).
    scoring : str, callable or None, default=None
    refit : bool or callable, default=True
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=True
    random_state : None, int or RandomState, default=None
        Seeds of nets whose ``random_state`` is None (one per fold), and the rows of each
        round for ``resource="n_samples"``.
    n_jobs : int or None, default=None
        Workers for training (stacked tasks are split between them).
    verbose : int, default=0

    {attributes}
    See Also
    --------
    StackedHalvingRandomSearchCV : the same over sampled candidates.
    StackedGridSearchCV : every candidate on the whole resource.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedHalvingGridSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=9, random_state=0)
    >>> grid = {{"lr": [1e-3, 3e-3, 1e-2, 3e-2], "optimizer__weight_decay": [0.0, 1e-4]}}
    >>> search = StackedHalvingGridSearchCV(net, grid, cv=3).fit(X, y)
    >>> search.n_candidates_, search.n_resources_
    ([8, 3], [3, 9])
    >>> search.best_params_["max_epochs"]
    9
    """

    _parameter_constraints: ClassVar[dict] = {
        **HalvingGridSearchCV._parameter_constraints,
        "factor": _FACTOR,
        "scoring": [StrOptions(set(scorer_names())), callable, None],
    }

    def __init__(
        self, estimator, param_grid, *, factor=3, resource="max_epochs", max_resources="auto",
        min_resources="exhaust", aggressive_elimination=False, cv=5, scoring=None,
        refit=True, error_score=np.nan, return_train_score=True, random_state=None,
        n_jobs=None, verbose=0,
    ):  # fmt: skip
        super().__init__(
            estimator, param_grid, factor=factor, resource=resource,
            max_resources=max_resources, min_resources=min_resources,
            aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
            refit=refit, error_score=error_score, return_train_score=return_train_score,
            random_state=random_state, n_jobs=n_jobs, verbose=verbose,
        )  # fmt: skip


class StackedHalvingRandomSearchCV(_StackedHalvingMixin, HalvingRandomSearchCV):
    """Successive halving over sampled net parameters, each round's fits trained as
    stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.HalvingRandomSearchCV`, with
    ``resource="max_epochs"`` and ``max_resources="auto"`` (the estimator's
    ``max_epochs``) by default; ``random_state`` draws the candidates too.
    {halving}{shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier, NeuralNetRegressor, or a Pipeline ending in one
    param_distributions : dict or list of dicts
    n_candidates : int or "exhaust", default="exhaust"
    factor : int or float, default=3
    resource : str, default="max_epochs"
    max_resources : int or "auto", default="auto"
    min_resources : int, "exhaust" or "smallest", default="smallest"
    aggressive_elimination : bool, default=False
    cv : int, cross-validation generator or iterable, default=5
    scoring : str, callable or None, default=None
    refit : bool or callable, default=True
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=True
    random_state : None, int or RandomState, default=None
    n_jobs : int or None, default=None
    verbose : int, default=0

    {attributes}
    See Also
    --------
    StackedHalvingGridSearchCV : the same over a grid.
    StackedRandomizedSearchCV : every candidate on the whole resource.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedHalvingRandomSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=9, random_state=0)
    >>> space = {{"lr": loguniform(1e-3, 1e-1)}}
    >>> search = StackedHalvingRandomSearchCV(
    ...     net, space, n_candidates=9, min_resources=1, cv=3, random_state=0
    ... ).fit(X, y)
    >>> search.n_candidates_, search.n_resources_
    ([9, 3, 1], [1, 3, 9])
    """

    _parameter_constraints: ClassVar[dict] = {
        **HalvingRandomSearchCV._parameter_constraints,
        "factor": _FACTOR,
        "scoring": [StrOptions(set(scorer_names())), callable, None],
    }

    def __init__(
        self, estimator, param_distributions, *, n_candidates="exhaust", factor=3,
        resource="max_epochs", max_resources="auto", min_resources="smallest",
        aggressive_elimination=False, cv=5, scoring=None, refit=True, error_score=np.nan,
        return_train_score=True, random_state=None, n_jobs=None, verbose=0,
    ):  # fmt: skip
        super().__init__(
            estimator, param_distributions, n_candidates=n_candidates, factor=factor,
            resource=resource, max_resources=max_resources, min_resources=min_resources,
            aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
            refit=refit, error_score=error_score, return_train_score=return_train_score,
            random_state=random_state, n_jobs=n_jobs, verbose=verbose,
        )  # fmt: skip


_ATTRIBUTES = """Attributes
    ----------
    n_resources_, n_candidates_, n_remaining_candidates_, max_resources_, min_resources_,
    n_iterations_, n_possible_iterations_, n_required_iterations_, cv_results_,
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_,
    refit_time_, multimetric_ : as in scikit-learn's {search}
    stacked_groups_ : list of dict
        Per round and group of candidates sharing an architecture: ``params`` (what they
        share, the round's resource included), ``n_fits``, ``stacked``, ``reason`` and
        ``seconds``.
"""
for _cls, _search in [
    (StackedHalvingGridSearchCV, "HalvingGridSearchCV"),
    (StackedHalvingRandomSearchCV, "HalvingRandomSearchCV"),
]:
    _cls.__doc__ = _cls.__doc__.format(
        halving=_HALVING_DOC, shared=_SHARED_DOC, attributes=_ATTRIBUTES.format(search=_search)
    )
