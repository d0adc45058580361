"""Nested cross-validation and helpers that turn a fitted search into better decisions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.model_selection import check_cv
from sklearn.utils.validation import check_array, column_or_1d

from ..engine import cross_fit
from ..utils._fit_warnings import warn_user
from ..utils._private import Interval
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params


@dataclass(frozen=True)
class NestedCVResult:
    """What :func:`nested_cross_validate` found.

    Attributes
    ----------
    outer_scores : ndarray of shape (n_outer_splits,)
        Each outer fold's score of the model its inner search chose: the unbiased estimate.
    best_params : list of dict
        The parameters chosen in each outer fold (if they vary a lot, so does the model).
    inner_best_scores : ndarray of shape (n_outer_splits,)
        Each inner search's ``best_score_``: the best of many candidates' CV scores on
        the outer fold's training rows. It is no estimate of the tuned model's score:
        picking the best of several noisy scores biases it up (selection), while inner
        fits see fewer rows than the outer refit, which biases it down. It can land on
        either side of ``outer_scores``; a large gap says the search's choice was noise.
    searches : list of fitted searches

    See Also
    --------
    nested_cross_validate : the function that returns it.
    compare_models : compare several models on the same folds.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import nested_cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(DecisionTreeClassifier(random_state=0), {"max_depth": [1, 3]}, cv=3)
    >>> result = nested_cross_validate(search, X, y, outer_cv=3, random_state=0)
    >>> result.outer_scores.shape, result.best_params[0], len(result.searches)
    ((3,), {'max_depth': 3}, 3)
    """

    outer_scores: np.ndarray
    best_params: list
    inner_best_scores: np.ndarray
    searches: list = field(repr=False)

    def __repr__(self) -> str:
        return (
            f"NestedCVResult(outer={self.outer_scores.mean():.4f} +/- "
            f"{self.outer_scores.std():.4f}, inner_best={self.inner_best_scores.mean():.4f}, "
            f"folds={len(self.outer_scores)})"
        )


@fill_doc(params=PARAMS_DOC)
def nested_cross_validate(
    search,
    X,
    y,
    *,
    outer_cv=5,
    scoring=None,
    groups=None,
    n_jobs=None,
    random_state=None,
    params=None,
) -> NestedCVResult:
    """Unbiased estimate of a tuned model: a hyper-parameter search inside each outer fold.

    The search (``GridSearchCV``, ``RandomizedSearchCV``...) is cloned and fitted on each
    outer fold's training rows, in parallel over outer folds through the member engine; the
    model it refits is scored on the outer test rows, which the search never saw. Inner
    searches keep their own ``n_jobs`` (None: 1), so outer and inner parallelism do not
    oversubscribe the cores.

    Parameters
    ----------
    search : a scikit-learn search (unfitted), with ``refit=True``
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    outer_cv : int or splitter, default=5
    scoring : str, callable or None, default=None
        Outer score; None uses the search's ``score``.
    groups : array-like, default=None
        For group splitters in the outer loop.
    n_jobs : int or None, default=None
        Outer folds in parallel.
    random_state : None or int, default=None
        Seeds of unset ``random_state`` parameters in the searched estimator.
    {params}
        To group the inner search's folds too, pass ``params={"groups": groups}``.

    Returns
    -------
    result : NestedCVResult

    See Also
    --------
    compare_models : compare tuned models on the same folds.
    StackedGridSearchCV : an inner search that fits net candidates stacked.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.svm import SVC
    >>> from ensemblekit.model_selection import nested_cross_validate
    >>> X, y = load_iris(return_X_y=True)
    >>> result = nested_cross_validate(GridSearchCV(SVC(), {"C": [0.1, 1, 10]}), X, y)
    >>> len(result.outer_scores), bool(result.outer_scores.mean() > 0.9)
    (5, True)
    """
    if not hasattr(search, "best_params_") and not hasattr(type(search), "_run_search"):
        raise ValueError(
            f"search must be a scikit-learn hyper-parameter search (GridSearchCV, ...), got "
            f"{type(search).__name__}."
        )
    if getattr(search, "refit", True) is False:
        raise ValueError("The search needs refit=True to be scored on the outer folds.")
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    splits = list(check_cv(outer_cv, y, classifier=is_classifier(search)).split(X, y, groups))
    fit_params = routed_fit_params("nested_cross_validate", search, params)
    searches, outer_scores, _ = cross_fit(
        search, X, y, splits, scoring=scoring, n_jobs=n_jobs, random_state=random_state,
        fit_params=fit_params, predictions=False,
    )  # fmt: skip
    return NestedCVResult(
        outer_scores=outer_scores,
        best_params=[s.best_params_ for s in searches],
        inner_best_scores=np.array([s.best_score_ for s in searches]),
        searches=searches,
    )


def _check_fitted_search(search):
    """A fitted search (GridSearchCV and its kind), or an error that says which it is not."""
    if not hasattr(search, "estimator"):
        raise TypeError(
            f"search must be a fitted search such as GridSearchCV or RandomizedSearchCV, "
            f"got {type(search).__name__}."
        )
    if not hasattr(search, "cv_results_"):
        raise ValueError(
            f"{type(search).__name__} is not fitted; call fit before building on its results."
        )


def _ranks(search) -> np.ndarray:
    refit = search.refit if isinstance(search.refit, str) else "score"
    return np.asarray(search.cv_results_[f"rank_test_{refit}"])


def top_k_ensemble(search, k: int = 3, *, X=None, y=None):
    """A soft-voting ensemble of the ``k`` best parameter settings of a fitted search.

    The best few candidates of a search, averaged, often beat the single best (the cs231n
    notes' advice). Candidates are cloned from ``search.estimator`` with their parameters;
    the result is a scikit-learn ``VotingClassifier(voting="soft")`` or ``VotingRegressor``,
    fitted on ``X, y`` when given (all the data), else ready to fit.

    Parameters
    ----------
    search : fitted GridSearchCV or RandomizedSearchCV
    k : int, default=3
    X, y : array-like, default=None
        Data to refit the ensemble on.

    Returns
    -------
    ensemble : VotingClassifier or VotingRegressor
        Members named ``rank1``, ``rank2``... in order of the search's ranking.

    See Also
    --------
    StackedGridSearchCV : a search whose candidates are fitted stacked.
    ensemblekit.ensemble.CVEnsembleClassifier : an ensemble of one setting, one member per fold.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.model_selection import top_k_ensemble
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1, 10]}).fit(X, y)
    >>> ens = top_k_ensemble(search, k=2, X=X, y=y)
    >>> [name for name, _ in ens.estimators]
    ['rank1', 'rank2']
    """
    _check_fitted_search(search)
    ranks = _ranks(search)
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= len(ranks):
        raise ValueError(
            f"k must be an integer in [1, {len(ranks)}] (the search tried {len(ranks)} "
            f"candidates), got {k!r}."
        )
    order = np.argsort(ranks, kind="stable")[: int(k)]
    members = [
        (f"rank{i + 1}", clone(search.estimator).set_params(**search.cv_results_["params"][j]))
        for i, j in enumerate(order)
    ]
    if is_classifier(search.estimator):
        if not hasattr(search.estimator, "predict_proba"):
            raise ValueError("Soft voting needs predict_proba, which the searched estimator lacks.")
        ensemble = VotingClassifier(members, voting="soft")
    else:
        ensemble = VotingRegressor(members)
    return ensemble if X is None else ensemble.fit(X, y)


class SearchBorderWarning(UserWarning):
    """A search's best value of a numeric parameter lies on the edge of what was searched.

    See Also
    --------
    check_search_border : the check behind the warning.
    refine_distributions : narrow (or widen) the ranges for a next round.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.model_selection import GridSearchCV
    >>> from ensemblekit.model_selection import SearchBorderWarning, check_search_border
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = GridSearchCV(Ridge(), {"alpha": [1.0, 10.0, 100.0]}).fit(X, y)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always", SearchBorderWarning)
    ...     _ = check_search_border(search)
    >>> [w.category.__name__ for w in caught]
    ['SearchBorderWarning']
    """


@dataclass(frozen=True)
class BorderFinding:
    """One parameter whose best value sits on the edge of the searched range.

    Attributes
    ----------
    param : str
        The parameter's name, as the search knows it.
    best_value : float
        Its value in the best candidate.
    edge : {"low", "high"}
        Which end of the searched values it sits on.
    searched : tuple
        The lowest and highest values searched.
    suggestion : str
        What to search next, in words.

    See Also
    --------
    check_search_border : the function that returns it.
    SearchBorderWarning : the warning a search gives with it.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from sklearn.model_selection import GridSearchCV
    >>> from ensemblekit.model_selection import check_search_border
    >>> X, y = load_diabetes(return_X_y=True)
    >>> search = GridSearchCV(Ridge(), {"alpha": [1.0, 10.0, 100.0]}).fit(X, y)
    >>> finding, = check_search_border(search, warn=False)
    >>> finding.param, finding.best_value, finding.edge, finding.searched
    ('alpha', 1.0, 'low', (1.0, 100.0))
    """

    param: str
    best_value: float
    edge: str
    searched: tuple
    suggestion: str


_LOG_SCALE_NAMES = {
    "lr",
    "learning_rate",
    "alpha",
    "c",
    "weight_decay",
    "l2",
    "lambda",
    "reg",
    "tol",
    "eps",
    "gamma",
}


def check_search_border(
    search, *, margin: float = 0.05, warn: bool = True
) -> list[BorderFinding] | None:
    """Say when a best numeric parameter lies on the border of the searched range.

    A best value at the edge of a grid (or within ``margin`` of a distribution's bounds)
    means the optimum may lie beyond it: search further out. Learning rates and
    regularisation strengths (and any positive range spanning over two decades) are
    suggested on a log scale. Suggestions stay within what the parameter accepts (its
    estimator's parameter constraints: ``max_samples`` up to 1.0, whole numbers for
    ``n_estimators``), and a best value on the limit of what the parameter accepts is no
    finding, since nothing lies beyond it.

    Parameters
    ----------
    search : fitted GridSearchCV or RandomizedSearchCV
    margin : float, default=0.05
        Share of a continuous range (in log space for log-scaled ones) that counts as its edge.
    warn : bool, default=True
        True: each finding is a :class:`SearchBorderWarning` and nothing is returned.
        False: the findings are returned, without warnings.

    Returns
    -------
    findings : list of BorderFinding or None
        With ``warn=False``: the findings, possibly empty; with ``warn=True``: None.

    See Also
    --------
    SearchBorderWarning : the warning a fitted search gives.
    refine_distributions : ranges for a next round around the best.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.model_selection import check_search_border
    >>> X, y = load_iris(return_X_y=True)
    >>> search = GridSearchCV(LogisticRegression(max_iter=500), {"C": [1e-4, 1e-3, 1e-2]}).fit(X, y)
    >>> [(f.param, f.edge) for f in check_search_border(search, warn=False)]
    [('C', 'high')]
    """
    if isinstance(margin, bool) or not isinstance(margin, Real) or not 0 <= margin < 0.5:
        raise ValueError(
            f"margin must be a fraction of the searched range in [0, 0.5), got {margin!r}."
        )
    _check_fitted_search(search)
    findings = []
    for name, best, (low, high, continuous) in _searched_numbers(search):
        log = _log_scale(name, low, high)
        edge = _edge(float(best), low, high, continuous, log, margin)
        if edge is None:
            continue
        if log:
            new = [best / 10, high] if edge == "low" else [low, best * 10]
        else:
            step = (high - low) / 2
            new = [low - step, high] if edge == "low" else [low, high + step]
        allowed = _allowed(search.estimator, name, best)
        if allowed is not None:
            new = _within(allowed, new, edge, best)
            if new is None:  # the best is on the limit of what the parameter accepts
                continue
        word = "widen it on a log scale" if log else "extend it"
        suggestion = f"{word}, e.g. [{new[0]:.3g}, {new[1]:.3g}]"
        findings.append(BorderFinding(name, best, edge, (low, high), suggestion))
    if not warn:
        return findings
    for finding in findings:
        low, high = finding.searched
        warn_user(
            f"The best {finding.param}={finding.best_value!r} lies on the {finding.edge} "
            f"edge of the searched range [{low:.3g}, {high:.3g}]; the optimum may lie "
            f"beyond it: {finding.suggestion}.",
            SearchBorderWarning,
        )
    return None


def _allowed(estimator, name: str, value):
    """The interval of the parameter constraint ``value`` satisfies, from the estimator
    that owns the (nested) parameter ``name``; None when it declares none."""
    *path, short = name.split("__")
    owner = estimator.get_params()["__".join(path)] if path else estimator
    constraints = getattr(owner, "_parameter_constraints", {}).get(short, [])
    for constraint in constraints:
        if isinstance(constraint, Interval) and constraint.is_satisfied_by(value):
            return constraint
    return None


def _within(interval, new: list, edge: str, best) -> list | None:
    """The range ``new`` clipped to ``interval`` (whole numbers for an integer one); None
    when the ``edge`` side cannot move past ``best``."""
    integer = interval.type is Integral
    low, high = new
    if interval.left is not None:
        if interval.closed in ("left", "both"):
            low = max(low, interval.left)
        elif low <= interval.left:  # an open bound: stop short of it
            low = interval.left + 1 if integer else (interval.left + best) / 2
    if interval.right is not None:
        if interval.closed in ("right", "both"):
            high = min(high, interval.right)
        elif high >= interval.right:
            high = interval.right - 1 if integer else (interval.right + best) / 2
    if integer:
        low, high = math.floor(low), math.ceil(high)
    moved = low < best if edge == "low" else high > best
    return [low, high] if moved else None


def _searched_numbers(search):
    """``(name, best value, (low, high, continuous))`` of each numeric best parameter whose
    searched range is known and not a single value."""
    for name, best in search.best_params_.items():
        if isinstance(best, bool) or not isinstance(best, int | float | np.number):
            continue
        low, high, continuous = _searched_range(search, name)
        if low is not None and low != high:
            yield name, best, (low, high, continuous)


def _searched_range(search, name):
    """(low, high, continuous) of what was searched for ``name``; (None, None, False) if unknown."""
    spaces = getattr(search, "param_grid", None) or getattr(search, "param_distributions", None)
    values, continuous = [], False
    for space in spaces if isinstance(spaces, list) else [spaces]:
        candidates = space.get(name)
        if candidates is None:
            continue
        if hasattr(candidates, "support"):  # a scipy distribution
            low, high = candidates.support()
            if not (np.isfinite(low) and np.isfinite(high)):
                return None, None, False
            values += [low, high]
            continuous = True
        else:
            values += [
                v
                for v in candidates
                if isinstance(v, int | float | np.number) and not isinstance(v, bool)
            ]
    if not values:
        return None, None, False
    return float(min(values)), float(max(values)), continuous


def _log_scale(name, low, high) -> bool:
    short = name.rsplit("__", 1)[-1].lower()
    return low > 0 and (short in _LOG_SCALE_NAMES or high / low > 100)


def _edge(best, low, high, continuous, log, margin):
    if not continuous:
        return "low" if best == low else "high" if best == high else None
    to = np.log10 if log else (lambda v: v)
    position = (to(best) - to(low)) / (to(high) - to(low))
    return "low" if position <= margin else "high" if position >= 1 - margin else None


def refine_distributions(search, *, shrink: float = 4.0) -> dict:
    """Narrower ranges around a fitted search's best, for the next round of a coarse-to-fine
    search (CS231n: search coarse, then fine, on log scales).

    :func:`check_search_border` runs first: a best value on the edge of its range warns,
    and the new range, centred on the best, reaches past that edge. Each numeric parameter
    gets a range ``shrink`` times narrower than the one searched, centred on its best value
    (on a log scale for learning rates, regularisation strengths and any positive range
    spanning over two decades: ``scipy.stats.loguniform``; otherwise ``uniform``), kept
    within what the parameter accepts (and non-negative when it was searched so). Other
    parameters are kept as they were.

    Parameters
    ----------
    search : fitted RandomizedSearchCV or GridSearchCV (or their stacked versions)
        Searched over one dict of parameters.
    shrink : float, default=4.0
        How many times narrower each range gets (> 1).

    Returns
    -------
    param_distributions : dict
        For the next ``RandomizedSearchCV`` (or :class:`StackedRandomizedSearchCV`).

    Warns
    -----
    SearchBorderWarning
        When a best value lies on the edge of its searched range.

    See Also
    --------
    StackedRandomizedSearchCV : the search to run on them.
    check_search_border : whether a best value lies on the edge of the range.

    Examples
    --------
    >>> import warnings
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import RandomizedSearchCV
    >>> from ensemblekit.model_selection import refine_distributions
    >>> X, y = load_iris(return_X_y=True)
    >>> space = {"C": loguniform(1e-3, 1e3)}
    >>> search = RandomizedSearchCV(LogisticRegression(max_iter=500), space, n_iter=8,
    ...                             random_state=0).fit(X, y)
    >>> low, high = refine_distributions(search)["C"].support()
    >>> bool(low < search.best_params_["C"] < high), round(float(high / low))
    (True, 32)
    """
    from scipy.stats import loguniform, uniform

    _check_fitted_search(search)
    if not shrink > 1:
        raise ValueError(f"shrink must be above 1, got {shrink!r}.")
    space = getattr(search, "param_distributions", None) or getattr(search, "param_grid", None)
    if not isinstance(space, dict):
        raise ValueError(
            "refine_distributions takes a search over one dict of parameters; refine each "
            "dict of a list on its own."
        )
    check_search_border(search)
    refined = dict(space)
    for name, best, (low, high, _) in _searched_numbers(search):
        log = _log_scale(name, low, high)
        if log:
            half = (np.log10(high) - np.log10(low)) / (2 * shrink)
            new = [best / 10**half, best * 10**half]
        else:
            half = (high - low) / (2 * shrink)
            new = [best - half, best + half]
        allowed = _allowed(search.estimator, name, best)
        if allowed is not None:
            new = _clipped(allowed, new, best)
        if low >= 0:  # a range searched over non-negative values stays non-negative
            new[0] = max(new[0], 0.0)
        log = log and new[0] > 0  # clipped to 0: no log scale reaches it
        refined[name] = loguniform(*new) if log else uniform(new[0], new[1] - new[0])
    return refined


def _clipped(interval, new: list, best) -> list:
    """``new`` within ``interval``: at a closed bound, or halfway to an open one."""
    low, high = new
    if interval.left is not None and low <= interval.left:
        low = interval.left if interval.closed in ("left", "both") else (interval.left + best) / 2
    if interval.right is not None and high >= interval.right:
        closed = interval.closed in ("right", "both")
        high = interval.right if closed else (interval.right + best) / 2
    return [low, high]
