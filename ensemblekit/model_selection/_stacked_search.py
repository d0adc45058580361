"""Hyper-parameter searches of nets in which candidates and folds train as stacked models.

A grid of 4 learning rates x 3 weight decays under 5-fold CV is 60 fits of one architecture,
differing in element-wise quantities only: the stacked engine trains them as one model.
The search then runs scikit-learn's own search loop, in which each fit adopts its member,
so ``cv_results_``, ranking, refit and scoring are ``GridSearchCV``'s.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections.abc import Iterator
from typing import ClassVar

import joblib
import numpy as np
from joblib import parallel_config
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    check_cv,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import check_X_y, indexable

from ..engine import fit_candidates, shared_params
from ..metrics import resolve_scoring, scorer_names
from ..nets import NeuralNetClassifier, NeuralNetRegressor, prefitted
from ..utils._fit_warnings import warnings_of
from ..utils._private import StrOptions, _safe_indexing
from ..utils._random import check_random_state, draw_seeds


class NotStackedWarning(UserWarning):
    """A stacked search, or some of its candidates, trained one fit at a time.

    The results are right all the same (they are scikit-learn's search's); the search is
    only slower. The message names the reason: an estimator that is neither an
    ensemblekit net nor a Pipeline ending in one, sparse X, fit parameters, or a group of
    candidates the stacked engine cannot train (``stacked_groups_`` lists them).

    See Also
    --------
    StackedGridSearchCV : a search that warns so.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.model_selection import NotStackedWarning, StackedGridSearchCV
    >>> X, y = load_iris(return_X_y=True)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = StackedGridSearchCV(LogisticRegression(max_iter=500), {"C": [1.0]}, cv=3).fit(X, y)
    >>> [w.category.__name__ for w in caught]
    ['NotStackedWarning']
    """


#: ``scoring`` as scikit-learn's searches take it, this package's scorer names included.
SCORING = [StrOptions(set(scorer_names())), callable, list, tuple, dict, None]


class _StackedSearchMixin:
    """The scikit-learn search, whose ``_run_search`` first trains every candidate on every
    fold through the member engine (stacked where they share an architecture), then hands
    the candidates to the search's own loop, in which each fit adopts its member."""

    def fit(self, X, y=None, *, groups=None, **params):
        """Train every candidate on every fold, stacked where it can, then score, rank
        and refit as the scikit-learn search does.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter (``GroupKFold``).
        **params
            Fit parameters (``sample_weight``): the search then runs as scikit-learn's,
            one fit per candidate and fold, without stacking.

        Returns
        -------
        self
        """
        with warnings_of(type(self).__name__, noun="fits"):  # one per kind, refit included
            if not (isinstance(self.cv, Iterator) and not hasattr(self.cv, "split")):
                return self._fit(X, y, groups, params)
            # Splits from a generator can be read once, and both scikit-learn's loop and
            # the stacked training read them: a copy of the search fits on them as a list,
            # and this one takes its fitted attributes (its parameters stay as given).
            search = copy.copy(self)
            search.cv = list(self.cv)
            search._fit(X, y, groups, params)
        given = set(self._get_param_names())
        vars(self).update({k: v for k, v in vars(search).items() if k not in given})
        return self

    def _get_scorers(self):
        """scikit-learn's scorers of ``scoring``, this package's scorer names included
        (resolved for the search's fit, never written to ``scoring``)."""
        resolved = copy.copy(self)
        resolved.scoring = resolve_scoring(self.scoring)
        return super(_StackedSearchMixin, resolved)._get_scorers()

    def _fit(self, X, y, groups, params):
        if groups is not None:
            params["groups"] = groups
        self.stacked_groups_ = []
        reason = self._why_not_stacked(X, {k: v for k, v in params.items() if k != "groups"})
        if reason is not None:
            self._say(f"every fit on its own: {reason}")
            warnings.warn(
                f"{type(self).__name__} fits every candidate on its own, as scikit-learn's "
                f"search does, because {reason}.",
                NotStackedWarning,
                stacklevel=3,
            )
            return super().fit(X, y, **params)
        # The nets' own checks, before any training (a list becomes an array, as they take
        # it); a Pipeline's first steps take X as it comes.
        if not isinstance(self.estimator, Pipeline):
            check_X_y(X, y, dtype=None, multi_output=True, y_numeric=False)
        X, y = (np.asarray(v) if isinstance(v, list | tuple) else v for v in (X, y))
        X, y = indexable(X, y)
        # The search loop's fits run in this thread, where they find their members; the
        # members train under the backend the caller chose.
        backend = joblib.parallel.get_active_backend()[0]
        with prefitted() as waiting, parallel_config(backend="sequential"):
            self._stacking = (X, y, groups, waiting, backend)
            try:
                super().fit(X, y, **params)
            finally:
                del self._stacking
        self._report_fit_times()
        alone = [g for g in self.stacked_groups_ if not g["stacked"] and g["seconds"] is not None]
        alone += getattr(self, "_unstacked", [])
        vars(self).pop("_unstacked", None)
        if alone:
            warnings.warn(
                f"{type(self).__name__}: {len(alone)} group(s) of candidates trained one fit "
                f"at a time, not stacked; the first because {alone[0]['reason']} (see "
                "stacked_groups_).",
                NotStackedWarning,
                stacklevel=3,
            )
        return self

    def _run_search(self, evaluate_candidates, *, callback_ctx=None):
        """The search's own loop, in which every call to evaluate candidates first trains
        them on its folds through the member engine, then evaluates them on the same
        folds (one call for a grid or random search, one per round for halving)."""
        context = {} if callback_ctx is None else {"callback_ctx": callback_ctx}
        if not hasattr(self, "_stacking"):
            return super()._run_search(evaluate_candidates, **context)
        X, y, groups, waiting, backend = self._stacking
        random_state = check_random_state(self.random_state)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        n_splits = cv.get_n_splits(X, y, groups)
        drawn = []  # the folds' seeds and the refit's, drawn when first needed

        def fold_seeds(rows: list) -> list:
            """The folds' seeds. A net whose random_state is unset trains with its fold's
            seed, and the refit with one more, also when the loop fits it (a candidate
            that did not stack)."""
            if not drawn:
                drawn.extend(draw_seeds(random_state, n_splits + 1))
                waiting.seed(X, y, drawn[-1])
            for (X_train, y_train), seed in zip(rows, drawn[:-1], strict=True):
                waiting.seed(X_train, y_train, seed)
            return drawn[:-1]

        def evaluate(candidates, cv=cv, more_results=None, adopt_only=False, **kwargs):
            """Train the candidates on the folds (unless their members wait already),
            then let the search's loop evaluate them on the same folds."""
            candidates = list(candidates)
            splits = list(check_cv(cv).split(X, y, groups=groups))
            rows = _fold_rows(X, y, splits)
            seeds = fold_seeds(rows)
            if not adopt_only:
                with parallel_config(backend=backend):
                    if isinstance(self.estimator, Pipeline):
                        self._train_pipelines(X, y, candidates, splits, seeds, drawn[-1], waiting)
                    else:
                        self._train_nets(candidates, rows, splits, seeds, waiting)
            return evaluate_candidates(candidates, check_cv(splits), more_results, **kwargs)

        return self._search_rounds(evaluate, fold_seeds, random_state, context)

    def _train_nets(self, candidates, rows, splits, seeds, waiting) -> None:
        """Every candidate net on every fold, stacked; each member waits for the loop's fit
        of its candidate on its fold's rows."""
        X, y = self._stacking[:2]
        fits = fit_candidates(
            self.estimator, X, y, candidates, splits, seeds, n_jobs=self.n_jobs,
            verbose=self.verbose, say=self._say,
        )  # fmt: skip
        self.stacked_groups_ += fits.groups
        for (c, fold), member in fits.members.items():
            waiting.add(candidates[c], *rows[fold], member)

    def _train_pipelines(self, X, y, candidates, splits, seeds, refit_seed, waiting) -> None:
        """A Pipeline ending in a net: per setting of the steps before the net, those steps
        fit once per fold, and the candidates' nets train stacked over candidates x folds
        on the transformed rows (the folds' rows one after another, each member on its
        fold's part). Each member waits for the loop's fit of its Pipeline, whose net gets
        the same transformed rows: the loop's steps fit as these did."""
        name, net = self.estimator.steps[-1]
        nets = [_net_params(candidate, f"{name}__") for candidate in candidates]
        for steps, group in by_steps(self.estimator, candidates):
            if name in steps:  # the candidates replace the net: the loop fits them
                self._fitted_alone(f"{len(group)} candidates set the step {name!r} itself")
                continue
            before = clone(self.estimator).set_params(**steps)[:-1]
            parts = [
                (clone(before).fit_transform(X_train, y_train), y_train)
                for X_train, y_train in _fold_rows(X, y, splits)
            ]
            for (Xt, yt), seed in zip(parts, seeds, strict=True):
                waiting.seed(Xt, yt, seed)  # a net the loop fits itself, as the bare search
            waiting.seed(clone(before).fit_transform(X, y), y, refit_seed)
            if any(sparse.issparse(Xt) for Xt, _ in parts):
                self._fitted_alone(
                    f"the steps before the net give sparse rows ({steps or 'as set'})"
                )
                continue
            X_all, y_all, fold_splits = folds_in_a_row(parts)
            fits = fit_candidates(
                net, X_all, y_all, nets, fold_splits, seeds, which=group, n_jobs=self.n_jobs,
                verbose=self.verbose, say=self._say,
            )  # fmt: skip
            for record in fits.groups:
                record["params"] = {
                    **steps,
                    **{f"{name}__{k}": v for k, v in record["params"].items()},
                }
            self.stacked_groups_ += fits.groups
            for (c, fold), member in fits.members.items():
                waiting.add(nets[c], *parts[fold], member)

    def _search_rounds(self, evaluate, fold_seeds, random_state, context):
        """Hand ``evaluate`` the candidates (grid and random search: all at once)."""
        return evaluate(self._candidates(random_state))

    def _why_not_stacked(self, X, params: dict) -> str | None:
        if params:
            return f"fit parameters are given ({', '.join(sorted(params))})"
        if sparse.issparse(X):
            return "X is sparse (stacked training takes dense X)"
        net = self.estimator[-1] if isinstance(self.estimator, Pipeline) else self.estimator
        if not isinstance(net, NeuralNetClassifier | NeuralNetRegressor):
            return (
                f"the estimator is a {type(self.estimator).__name__}, neither an ensemblekit "
                "net nor a Pipeline that ends in one"
            )
        return None

    def _report_fit_times(self) -> None:
        """Fit times: each member's share of its group's training time."""
        per_member = {}
        for record in self.stacked_groups_:
            if record["seconds"] is not None:
                per_member[repr(record["params"])] = record["seconds"] / record["n_fits"]
        for i, candidate in enumerate(self.cv_results_["params"]):
            share = per_member.get(repr(self._shared(candidate)))
            if share is not None:
                self.cv_results_["mean_fit_time"][i] = share
                self.cv_results_["std_fit_time"][i] = 0.0

    def _shared(self, candidate: dict) -> dict:
        """What the candidate's members share with their stack (a Pipeline's: the steps
        before the net, and the net's shared parameters), as its group records it."""
        if not isinstance(self.estimator, Pipeline):
            return shared_params(self.estimator, candidate)
        name, net = self.estimator.steps[-1]
        prefix = f"{name}__"
        steps = {k: v for k, v in sorted(candidate.items()) if not k.startswith(prefix)}
        shared = shared_params(net, _net_params(candidate, prefix))
        return {**steps, **{prefix + k: v for k, v in shared.items()}}

    def _fitted_alone(self, reason: str) -> None:
        """Candidates the search loop fits one at a time, and why (warned once per fit)."""
        self._say(f"fitted one by one: {reason}")
        vars(self).setdefault("_unstacked", []).append({"reason": reason})

    def _say(self, message: str) -> None:
        if self.verbose:
            print(f"{type(self).__name__}: {message}")


def by_steps(pipeline, candidates) -> list[tuple[dict, list[int]]]:
    """A Pipeline's candidates grouped by their settings of the steps before the net
    (each group's steps fit once per fold), in order of first appearance."""
    prefix = f"{pipeline.steps[-1][0]}__"
    groups: dict[str, tuple[dict, list[int]]] = {}
    for c, candidate in enumerate(candidates):
        steps = {k: v for k, v in sorted(candidate.items()) if not k.startswith(prefix)}
        groups.setdefault(repr(steps), (steps, []))[1].append(c)
    return list(groups.values())


def folds_in_a_row(parts: list) -> tuple:
    """The folds' transformed training rows ``(Xt, yt)`` one after another, as ``X, y``
    and the splits that give each fold its part (no test rows: members are scored on
    rows of their own)."""
    ends = np.cumsum([0, *(len(yt) for _, yt in parts)])
    no_rows = np.array([], dtype=int)
    splits = [(np.arange(a, b), no_rows) for a, b in itertools.pairwise(ends)]
    X_all = np.concatenate([np.asarray(Xt) for Xt, _ in parts])
    return X_all, np.concatenate([np.asarray(yt) for _, yt in parts]), splits


def _net_params(candidate: dict, prefix: str) -> dict:
    """The candidate's parameters of the Pipeline's net, as the net names them."""
    return {k.removeprefix(prefix): v for k, v in candidate.items() if k.startswith(prefix)}


def _fold_rows(X, y, splits, part: int = 0) -> list[tuple]:
    """Each fold's training rows (``part=0``) or test rows (``part=1``) of X and y."""
    return [(_safe_indexing(X, rows[part]), _safe_indexing(y, rows[part])) for rows in splits]


_SHARED_DOC = """
    Candidates that differ only in the learning rate and the optimizer's settings
    (``lr``, ``optimizer__weight_decay``, ``optimizer__momentum``, ``optimizer__betas``,
    any ``optimizer__*``) train together with every fold's rows as one stacked model;
    candidates that change anything else (``module__hidden_units``, ``module__dropout``,
    ``module``, ``batch_size``, ``max_epochs``, class weights) are grouped by those
    values, and each group is stacked. A group the stacked engine cannot train (a callback
    acting on every batch, an optimizer whose update of a weight depends on other weights)
    trains one fit at a time, in parallel over ``n_jobs``, and ``verbose`` says why; so does
    the whole search when the estimator is neither an ensemblekit net nor a Pipeline that
    ends in one, X is sparse, or fit parameters other than ``groups`` are given.

    A Pipeline that ends in a net (scaling, then the net) stacks too: per setting of the
    steps before the net, those steps fit once per fold, and the nets train stacked over
    candidates x folds on the transformed rows. Its parameters keep their Pipeline names
    (``neuralnetclassifier__lr``).

    Each stacked member is the net its own fit would give, up to float rounding, so
    ``cv_results_`` agrees with scikit-learn's search over the same nets, folds and seeds.
    The scoring, ranking and refit are scikit-learn's own. ``mean_fit_time`` is each
    member's share of its group's training time (``std_fit_time`` 0); ``stacked_groups_``
    says how each group trained.

    A net whose ``random_state`` is None gets one seed per fold from ``random_state``
    (the same for every candidate, so candidates are compared on equal draws), and the
    refit net one more; a net's own ``random_state`` is kept.
"""


class StackedGridSearchCV(_StackedSearchMixin, GridSearchCV):
    """Exhaustive search over a grid of net parameters, with the candidates' fits on every
    fold trained as stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.GridSearchCV`, plus ``random_state``.
    {shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier, NeuralNetRegressor, or a Pipeline ending in one
    param_grid : dict or list of dicts
    scoring : str, callable, list, tuple, dict or None, default=None
    n_jobs : int or None, default=None
        Workers for training (stacked tasks are split between them).
    refit : bool, str or callable, default=True
    cv : int, cross-validation generator or iterable, default=None
    verbose : int, default=0
    pre_dispatch : int or str, default="2*n_jobs"
        Unused when the fits are stacked.
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=False
    random_state : None, int or RandomState, default=None
        Seeds of nets whose ``random_state`` is None, one per fold.

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_,
    n_splits_, refit_time_, multimetric_ : as in GridSearchCV
    stacked_groups_ : list of dict
        Per group of candidates sharing an architecture: ``params`` (what they share),
        ``n_fits``, ``stacked``, ``reason`` (why not stacked, or None) and ``seconds``.

    See Also
    --------
    StackedRandomizedSearchCV : the same over sampled candidates.
    refine_distributions : narrow a random search's ranges around its best.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedGridSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=10, random_state=0)
    >>> grid = {{"lr": [1e-3, 1e-2], "optimizer__weight_decay": [0.0, 1e-4]}}
    >>> search = StackedGridSearchCV(net, grid, cv=3).fit(X, y)
    >>> search.stacked_groups_[0]["stacked"], search.stacked_groups_[0]["n_fits"]
    (True, 12)
    >>> sorted(search.best_params_)
    ['lr', 'optimizer__weight_decay']
    """

    def __init__(
        self, estimator, param_grid, *, scoring=None, n_jobs=None, refit=True, cv=None,
        verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan, return_train_score=False,
        random_state=None,
    ):  # fmt: skip
        super().__init__(
            estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit, cv=cv,
            verbose=verbose, pre_dispatch=pre_dispatch, error_score=error_score,
            return_train_score=return_train_score,
        )  # fmt: skip
        self.random_state = random_state

    _parameter_constraints: ClassVar[dict] = {
        **GridSearchCV._parameter_constraints,
        "scoring": SCORING,
    }

    def _candidates(self, random_state):
        return ParameterGrid(self.param_grid)


class StackedRandomizedSearchCV(_StackedSearchMixin, RandomizedSearchCV):
    """Randomized search over net parameters, with the candidates' fits on every fold
    trained as stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.RandomizedSearchCV`; ``random_state`` draws the
    candidates and seeds nets whose ``random_state`` is None. Sample learning rates and
    weight decays on a log scale (``scipy.stats.loguniform``).
    {shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier, NeuralNetRegressor, or a Pipeline ending in one
    param_distributions : dict or list of dicts
    n_iter : int, default=10
    scoring : str, callable, list, tuple, dict or None, default=None
    n_jobs : int or None, default=None
    refit : bool, str or callable, default=True
    cv : int, cross-validation generator or iterable, default=None
    verbose : int, default=0
    pre_dispatch : int or str, default="2*n_jobs"
    random_state : None, int or RandomState, default=None
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=False

    Attributes
    ----------
    cv_results_, best_estimator_, best_score_, best_params_, best_index_, scorer_,
    n_splits_, refit_time_, multimetric_ : as in RandomizedSearchCV
    stacked_groups_ : list of dict
        As in :class:`StackedGridSearchCV`.

    See Also
    --------
    StackedGridSearchCV : the same over a grid.
    refine_distributions : narrow the ranges around the best, for the next round.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedRandomizedSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=10, random_state=0)
    >>> space = {{"lr": loguniform(1e-4, 1e-1)}}
    >>> search = StackedRandomizedSearchCV(net, space, n_iter=4, cv=3, random_state=0)
    >>> len(search.fit(X, y).cv_results_["params"])
    4
    """

    def __init__(
        self, estimator, param_distributions, *, n_iter=10, scoring=None, n_jobs=None,
        refit=True, cv=None, verbose=0, pre_dispatch="2*n_jobs", random_state=None,
        error_score=np.nan, return_train_score=False,
    ):  # fmt: skip
        super().__init__(
            estimator, param_distributions, n_iter=n_iter, scoring=scoring, n_jobs=n_jobs,
            refit=refit, cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
            random_state=random_state, error_score=error_score,
            return_train_score=return_train_score,
        )  # fmt: skip

    _parameter_constraints: ClassVar[dict] = {
        **RandomizedSearchCV._parameter_constraints,
        "scoring": SCORING,
    }

    def _candidates(self, random_state):
        return ParameterSampler(self.param_distributions, self.n_iter, random_state=random_state)


StackedGridSearchCV.__doc__ = StackedGridSearchCV.__doc__.format(shared=_SHARED_DOC)
StackedRandomizedSearchCV.__doc__ = StackedRandomizedSearchCV.__doc__.format(shared=_SHARED_DOC)
