"""Bootstrap estimates of a model's score (Efron's .632 and .632+) and of a metric's interval.

Definitions follow Efron (1983) and Efron & Tibshirani (1997), computed per point, not
mlxtend's per-round variant (``bootstrap_point632_score`` applies the formula to each round
and averages, which can differ by several points).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.stats
import sklearn.metrics
from sklearn.base import BaseEstimator, is_classifier
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import MemberPlan, fit_members
from ..utils._fit_warnings import warnings_of
from ..utils._proba import clip_proba
from ..utils._random import check_random_state, draw_seeds
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params

_METHODS = ("oob", ".632", ".632+")


@dataclass(frozen=True)
class _PointLoss:
    """A loss defined per point, so Efron's per-point estimates apply to it."""

    response: str  # the estimator method that feeds it
    per_point: Callable  # (y, output, classes) -> losses, one per row
    no_information: Callable  # (y, output, classes) -> mean loss over all (y_i, f(x_j)) pairs
    to_score: Callable  # loss -> score, higher is better, as scikit-learn's scorers


def _abs_pairs(y, f):
    """mean over all pairs |y_i - f_j| in O(n log n): sort f, split each |.| at y_i."""
    f = np.sort(f)
    prefix = np.r_[0.0, np.cumsum(f)]
    k = np.searchsorted(f, y)
    below = y * k - prefix[k]
    above = (prefix[-1] - prefix[k]) - y * (len(f) - k)
    return float(np.mean(below + above) / len(f))


def _proba_columns(proba, classes, y):
    """Column of each row's true class, clipped as scikit-learn's log_loss does."""
    return clip_proba(proba[np.arange(len(y)), np.searchsorted(classes, y)])


_LOSSES = {
    "accuracy": _PointLoss(
        "predict",
        lambda y, pred, classes: (pred != y).astype(float),
        lambda y, pred, classes: (
            1.0 - sum(np.mean(y == c) * np.mean(pred == c) for c in np.unique(np.r_[y, pred]))
        ),
        lambda err: 1.0 - err,
    ),
    "neg_mean_squared_error": _PointLoss(
        "predict",
        lambda y, pred, classes: (y - pred) ** 2,
        lambda y, f, classes: float(np.mean(y**2) - 2 * np.mean(y) * np.mean(f) + np.mean(f**2)),
        lambda err: -err,
    ),
    "neg_mean_absolute_error": _PointLoss(
        "predict",
        lambda y, pred, classes: np.abs(y - pred),
        lambda y, f, classes: _abs_pairs(y, f),
        lambda err: -err,
    ),
    "neg_log_loss": _PointLoss(
        "predict_proba",
        lambda y, proba, classes: -np.log(_proba_columns(proba, classes, y)),
        lambda y, proba, classes: float(
            sum(
                np.mean(y == c) * np.mean(-np.log(clip_proba(proba[:, k])))
                for k, c in enumerate(classes)
            )
        ),
        lambda err: -err,
    ),
}


@dataclass(frozen=True)
class BootstrapScoreResult:
    """What :func:`bootstrap_score` found.

    Attributes
    ----------
    estimate : float
        The score by ``method``, higher is better (as scikit-learn's scorers).
    method : str
        "oob", ".632" or ".632+".
    scoring : str
        The per-point score used.
    scores : ndarray of shape (n_rounds,)
        Each round's score on the rows its bootstrap left out.
    train_score : float
        Apparent score: the model fitted on all rows, scored on them.
    oob_score : float
        Efron's leave-one-out bootstrap score: per row, the mean loss of the rounds that left
        it out, averaged over rows left out at least once.
    no_information_score : float
        Score of the full model's predictions paired with every label (the .632+ gamma).

    See Also
    --------
    bootstrap_score : the function that returns it.
    BootstrapCI : a metric's confidence interval.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.model_selection import bootstrap_score
    >>> X, y = load_iris(return_X_y=True)
    >>> result = bootstrap_score(LogisticRegression(max_iter=500), X, y, method="oob",
    ...                          n_rounds=10, random_state=0)
    >>> result.method, result.scoring, result.scores.shape, result.estimate == result.oob_score
    ('oob', 'accuracy', (10,), True)
    """

    estimate: float
    method: str
    scoring: str
    scores: np.ndarray = field(repr=False)
    train_score: float
    oob_score: float
    no_information_score: float

    def __repr__(self) -> str:
        return (
            f"BootstrapScoreResult(estimate={self.estimate:.4f}, method={self.method!r}, "
            f"scoring={self.scoring!r}, train_score={self.train_score:.4f}, "
            f"oob_score={self.oob_score:.4f}, no_information_score="
            f"{self.no_information_score:.4f}, rounds={len(self.scores)})"
        )


def leave_one_out_bootstrap_error(losses: np.ndarray) -> float:
    """Efron's Err^(1) from a (rounds, rows) loss matrix, NaN where the row was in the bag.

    Each row's losses are averaged over the rounds that left it out; rows never left out are
    skipped; the row means are then averaged.

    Parameters
    ----------
    losses : ndarray of shape (n_rounds, n_rows)
        Each round's loss on each row, NaN where the round drew the row.

    Returns
    -------
    error : float

    See Also
    --------
    efron_estimate : the .632 and .632+ rules built on it.
    bootstrap_score : the whole estimate from a model and data.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.model_selection import leave_one_out_bootstrap_error
    >>> losses = np.array([[np.nan, 1.0, 0.0],
    ...                    [0.0, np.nan, 0.0],
    ...                    [1.0, 1.0, np.nan]])  # row means 0.5, 1 and 0
    >>> leave_one_out_bootstrap_error(losses)
    0.5
    """
    left_out = ~np.isnan(losses)
    counts = left_out.sum(axis=0)
    if not counts.any():
        raise ValueError("No row was left out of any bootstrap round; use more rounds.")
    per_row = np.where(left_out, losses, 0.0).sum(axis=0)[counts > 0] / counts[counts > 0]
    return float(per_row.mean())


def efron_estimate(method: str, err_train: float, err_oob: float, gamma: float) -> float:
    """Combine apparent and leave-one-out bootstrap errors by Efron's rule.

    ".632": ``0.368 err_train + 0.632 err_oob``. ".632+": with ``err_oob' = min(err_oob,
    gamma)`` and relative overfitting ``R = (err_oob' - err_train) / (gamma - err_train)``
    (0 unless both differences are positive, clipped to [0, 1]), weight
    ``w = 0.632 / (1 - 0.368 R)`` and estimate ``(1 - w) err_train + w err_oob'``.

    Parameters
    ----------
    method : {"oob", ".632", ".632+"}
        "oob" returns ``err_oob`` itself.
    err_train : float
        The apparent error: the model fitted and scored on all rows.
    err_oob : float
        The leave-one-out bootstrap error (:func:`leave_one_out_bootstrap_error`).
    gamma : float
        The no-information error: of predictions and labels paired at random.

    Returns
    -------
    estimate : float

    See Also
    --------
    leave_one_out_bootstrap_error : the out-of-bag error it combines.
    bootstrap_score : the whole estimate from a model and data.

    Examples
    --------
    >>> from ensemblekit.model_selection import efron_estimate
    >>> round(efron_estimate(".632", err_train=0.0, err_oob=0.1, gamma=0.5), 4)
    0.0632
    >>> round(efron_estimate(".632+", err_train=0.0, err_oob=0.1, gamma=0.5), 4)
    0.0682
    """
    if method == "oob":
        return err_oob
    if method == ".632":
        return 0.368 * err_train + 0.632 * err_oob
    err_oob_capped = min(err_oob, gamma)
    overfit = 0.0
    if err_oob_capped > err_train and gamma > err_train:
        overfit = float(np.clip((err_oob_capped - err_train) / (gamma - err_train), 0.0, 1.0))
    weight = 0.632 / (1 - 0.368 * overfit)
    return (1 - weight) * err_train + weight * err_oob_capped


@fill_doc(params=PARAMS_DOC)
def bootstrap_score(
    estimator: BaseEstimator,
    X,
    y,
    *,
    method: str = ".632+",
    n_rounds: int = 200,
    scoring: str | None = None,
    random_state=None,
    n_jobs: int | None = None,
    verbose: int = 0,
    params: dict | None = None,
) -> BootstrapScoreResult:
    """Estimate a model's score by the bootstrap: out-of-bag, .632 or .632+.

    Round r fits a fresh clone on rows ``RandomState(random_state).choice(n, n)`` (the r-th
    draw, as mlxtend draws) and scores the rows it left out; one more clone is fitted on all
    rows for the apparent score. Rounds run in parallel through the member engine.

    Parameters
    ----------
    estimator : estimator
        Cloned for every round; never modified.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    method : {"oob", ".632", ".632+"}, default=".632+"
        "oob" is Efron's leave-one-out bootstrap (pessimistic: each round sees ~63% of the
        distinct rows); ".632" (Efron 1983) blends it with the optimistic apparent error;
        ".632+" (Efron & Tibshirani 1997) shifts the weight towards the out-of-bag error
        when the model overfits.
    n_rounds : int, default=200
        Bootstrap rounds (at least 2).
    scoring : {"accuracy", "neg_log_loss", "neg_mean_squared_error", \
"neg_mean_absolute_error"} or None, default=None
        A score defined per point, as Efron's estimates need. None: "accuracy" for
        classifiers, "neg_mean_squared_error" for regressors.
    random_state : None, int or RandomState, default=None
        Draws the rounds' rows, and seeds the clones whose ``random_state`` is None; a
        ``random_state`` set on ``estimator`` is kept in every round.
    n_jobs : int or None, default=None
        Rounds fitted in parallel through joblib.
    verbose : int, default=0
        > 0 shows a progress bar.
    {params}

    Returns
    -------
    result : BootstrapScoreResult
        ``estimate`` (higher is better), the per-round ``scores`` and the parts.

    See Also
    --------
    bootstrap_ci : a confidence interval of a metric.
    efron_estimate : the .632 and .632+ rules from given errors.
    leave_one_out_bootstrap_error : the out-of-bag error from a loss matrix.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import bootstrap_score
    >>> X, y = load_iris(return_X_y=True)
    >>> result = bootstrap_score(DecisionTreeClassifier(random_state=0), X, y,
    ...                          method=".632+", n_rounds=50, random_state=0)
    >>> round(result.train_score, 2), bool(0.9 < result.estimate < 1.0)
    (1.0, True)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}.")
    if int(n_rounds) < 2:
        raise ValueError(f"n_rounds must be at least 2, got {n_rounds!r}.")
    if scoring is None:
        scoring = "accuracy" if is_classifier(estimator) else "neg_mean_squared_error"
    if scoring not in _LOSSES:
        raise ValueError(
            f"scoring={scoring!r} is not supported: Efron's estimates need a score defined per "
            f"point; use one of {sorted(_LOSSES)}."
        )
    loss = _LOSSES[scoring]
    if loss.response == "predict_proba" and not hasattr(estimator, "predict_proba"):
        raise ValueError(f"scoring={scoring!r} needs an estimator with predict_proba.")
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    check_consistent_length(X, y)
    classes = np.unique(y) if is_classifier(estimator) else None

    n = len(X)
    rng = check_random_state(random_state)
    rows = [rng.choice(n, n, replace=True) for _ in range(int(n_rounds))]
    seeds = draw_seeds(rng, len(rows) + 1)
    plans = [MemberPlan(int(s), rows=r) for s, r in zip(seeds, rows, strict=False)]
    # reseed="unset": a learner the user seeded keeps its seed in every round and in the
    # full model (as in mlxtend); an unseeded one gets a seed of its own per round.
    with warnings_of(noun="fits (rounds and the full model)"):
        members = fit_members(
            estimator, X, y, [*plans, MemberPlan(int(seeds[-1]))], n_jobs=n_jobs,
            verbose=verbose, reseed="unset",
            fit_params=routed_fit_params("bootstrap_score", estimator, params),
        )  # fmt: skip
    full = members.pop()

    losses = np.full((len(rows), n), np.nan)
    for r, (member, in_bag) in enumerate(zip(members, rows, strict=True)):
        out = np.ones(n, dtype=bool)
        out[in_bag] = False
        if out.any():
            output = _finite(_response(member, loss, X[out], classes), f"round {r}")
            losses[r, out] = loss.per_point(y[out], output, classes)
    round_errors = np.array([row[~np.isnan(row)].mean() for row in losses])
    full_output = _finite(_response(full, loss, X, classes), "the model on all rows")
    err_train = float(np.mean(loss.per_point(y, full_output, classes)))
    gamma = float(loss.no_information(y, full_output, classes))
    err_oob = leave_one_out_bootstrap_error(losses)
    return BootstrapScoreResult(
        estimate=float(loss.to_score(efron_estimate(method, err_train, err_oob, gamma))),
        method=method,
        scoring=scoring,
        scores=loss.to_score(round_errors),
        train_score=float(loss.to_score(err_train)),
        oob_score=float(loss.to_score(err_oob)),
        no_information_score=float(loss.to_score(gamma)),
    )


def _finite(output: np.ndarray, which: str) -> np.ndarray:
    """A round's output; NaN would be taken for an in-bag row and dropped unseen."""
    if output.dtype.kind == "f" and not np.isfinite(output).all():
        raise ValueError(
            f"The model of {which} predicts NaN or inf; bootstrap_score cannot score it. "
            "Check that the estimator's fits succeed on bootstrap samples."
        )
    return output


def _response(member, loss: _PointLoss, X, classes):
    """The member's output for ``loss``; probabilities aligned to all classes of y."""
    if loss.response == "predict":
        return member.predict(X)
    proba = np.zeros((len(X), len(classes)))
    proba[:, np.searchsorted(classes, member.classes_)] = member.predict_proba(X)
    return proba


@dataclass(frozen=True)
class BootstrapCI:
    """A metric's value on the data and its bootstrap confidence interval.

    Attributes
    ----------
    estimate : float
        The metric on the data itself.
    low, high : float
        The interval's ends.
    confidence_level : float
    method : str
        How the interval was built ("percentile", "basic" or "bca").
    standard_error : float
        Standard deviation of the bootstrap replicates.

    See Also
    --------
    bootstrap_ci : the function that returns it.
    BootstrapScoreResult : a model's bootstrap score estimate.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import mean_absolute_error
    >>> from ensemblekit.model_selection import bootstrap_ci
    >>> y_true = np.arange(50.0)
    >>> y_pred = y_true + np.where(np.arange(50) % 2, 1.0, -3.0)
    >>> ci = bootstrap_ci(y_true, y_pred, mean_absolute_error, method="bca", n_resamples=999,
    ...                   random_state=0)
    >>> ci.estimate, ci.method, bool(ci.low < ci.estimate < ci.high)
    (2.0, 'bca', True)
    """

    estimate: float
    low: float
    high: float
    confidence_level: float
    method: str
    standard_error: float

    def __repr__(self) -> str:
        return (
            f"BootstrapCI(estimate={self.estimate:.4f}, low={self.low:.4f}, "
            f"high={self.high:.4f}, confidence_level={self.confidence_level}, "
            f"method={self.method!r})"
        )


class _Undefined(Exception):
    """A resample on which the metric is not defined (NaN): the interval is not either."""


def bootstrap_ci(
    y_true,
    y_pred,
    metric: Callable,
    *,
    confidence_level: float = 0.95,
    method: str = "percentile",
    n_resamples: int = 9999,
    random_state=None,
) -> BootstrapCI:
    """Confidence interval of ``metric(y_true, y_pred)`` by resampling rows, via scipy.

    Rows are resampled in pairs (the same rows of ``y_true`` and ``y_pred``) with
    ``scipy.stats.bootstrap``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,) or (n_samples, n_classes)
        Predictions, scores or probabilities: whatever ``metric`` takes.
    metric : callable
        ``metric(y_true, y_pred) -> float``, e.g. ``sklearn.metrics.accuracy_score``.
    confidence_level : float, default=0.95
    method : {"percentile", "bca"}, default="percentile"
        "bca" is the bias-corrected and accelerated interval (more accurate, n more calls).
    n_resamples : int, default=9999
    random_state : None, int or numpy Generator/RandomState, default=None

    Returns
    -------
    ci : BootstrapCI
        ``estimate`` (the metric on all rows), ``low``, ``high`` and ``standard_error``.

    See Also
    --------
    bootstrap_score : a model's score by the bootstrap.
    scipy.stats.bootstrap : the resampling it runs.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import accuracy_score
    >>> from ensemblekit.model_selection import bootstrap_ci
    >>> y_true = np.array([0, 1] * 50)
    >>> y_pred = np.where(np.arange(100) < 90, y_true, 1 - y_true)
    >>> ci = bootstrap_ci(y_true, y_pred, accuracy_score, n_resamples=999, random_state=0)
    >>> ci.estimate, bool(ci.low < 0.9 < ci.high)
    (0.9, True)
    """
    methods = {"percentile": "percentile", "bca": "BCa"}
    if method not in methods:
        raise ValueError(f"method must be 'percentile' or 'bca', got {method!r}.")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")
    if not callable(metric):
        named = (
            getattr(sklearn.metrics, f"{metric}_score", None) if isinstance(metric, str) else None
        )
        hint = f" such as sklearn.metrics.{named.__name__}" if named is not None else ""
        raise TypeError(f"metric must be a function metric(y_true, y_pred){hint}, got {metric!r}.")
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    check_consistent_length(y_true, y_pred)
    estimate = float(metric(y_true, y_pred))
    if not np.isfinite(estimate):
        raise ValueError(
            f"metric gives {estimate} on all the rows (one class in y_true, say): there is "
            "no interval of an undefined score."
        )

    def statistic(rows):
        value = metric(y_true[rows], y_pred[rows])
        if not np.isfinite(value):
            raise _Undefined
        return value

    # Resample row indices: any shape of y_pred, and BCa's jackknife leaves out whole rows.
    try:
        result = scipy.stats.bootstrap(
            (np.arange(len(y_true)),),
            statistic,
            vectorized=False,
            n_resamples=int(n_resamples),
            confidence_level=confidence_level,
            method=methods[method],
            **{_SCIPY_RNG: random_state},
        )
    except _Undefined:
        raise ValueError(
            "metric is undefined on some of the resampled rows (a resample with one class, "
            "say), so the interval is too: use more rows, or a metric defined on any sample."
        ) from None
    return BootstrapCI(
        estimate=estimate,
        low=float(result.confidence_interval.low),
        high=float(result.confidence_interval.high),
        confidence_level=confidence_level,
        method=method,
        standard_error=float(result.standard_error),
    )


# scipy 1.15 renamed random_state to rng in scipy.stats.bootstrap.
_SCIPY_RNG = (
    "rng" if "rng" in inspect.signature(scipy.stats.bootstrap).parameters else "random_state"
)
