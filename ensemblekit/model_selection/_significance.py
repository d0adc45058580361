"""Paired significance tests of two models, with the right variances: the corrected
resampled t-test, McNemar's test, the 5x2cv paired t-test, and Holm's adjustment."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy import stats
from sklearn.model_selection import (
    train_test_split,
)
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import cross_fit
from ..utils._fit_warnings import warn_user
from ..utils._random import check_random_state, draw_seeds
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params


@dataclass(frozen=True)
class SignificanceResult:
    """A test's ``statistic`` and its two-sided ``pvalue``.

    Formerly ``TestResult``, a name pytest took for a test class in the modules that
    imported it; the old name still works, with a ``FutureWarning``, until 0.3.

    Attributes
    ----------
    statistic : float
    pvalue : float

    See Also
    --------
    corrected_resampled_ttest : a test that returns it.
    paired_ttest_5x2cv : a test that returns it.
    mcnemar_test : a test that returns it.

    Examples
    --------
    >>> from ensemblekit.model_selection import corrected_resampled_ttest
    >>> result = corrected_resampled_ttest([0.05, 0.04, 0.06, 0.05, 0.07], n_train=80, n_test=20)
    >>> statistic, pvalue = result  # unpacks like scipy's results
    >>> bool(pvalue < 0.05), round(statistic, 2)
    (True, 7.06)
    """

    __test__ = False  # not a test class, whatever name a module imports it under

    statistic: float
    pvalue: float

    def __iter__(self):  # unpacks as (statistic, pvalue), like scipy's results
        return iter((self.statistic, self.pvalue))


def corrected_resampled_ttest(
    scores_a, scores_b=None, *, n_train: int, n_test: int
) -> SignificanceResult:
    """Nadeau & Bengio's (2003) corrected resampled t-test on k paired resampling scores.

    The k differences ``d`` (``scores_a - scores_b``, or ``scores_a`` itself when
    ``scores_b`` is None) share training rows, so the plain t-test's variance ``s^2 / k`` is
    too small; the correction uses ``(1/k + n_test/n_train) s^2``:
    ``t = mean(d) / sqrt((1/k + n_test/n_train) var(d, ddof=1))`` on k - 1 degrees of freedom.

    Parameters
    ----------
    scores_a : array-like of shape (k,)
    scores_b : array-like of shape (k,) or None, default=None
    n_train, n_test : int
        Rows in each split's training and test part.

    Returns
    -------
    result : SignificanceResult
        ``statistic`` (t) and two-sided ``pvalue``.

    See Also
    --------
    paired_ttest_5x2cv : Dietterich's test, on its own 5x2 folds.
    mcnemar_test : a test on one test set.
    compare_models : this test for several models, with a correction for many pairs.

    Examples
    --------
    >>> from ensemblekit.model_selection import corrected_resampled_ttest
    >>> r = corrected_resampled_ttest([0.02, 0.01, 0.03, 0.00, 0.04], n_train=80, n_test=20)
    >>> round(r.statistic, 4), round(r.pvalue, 4)
    (1.8856, 0.1324)
    """
    a = np.asarray(scores_a, dtype=float)
    b = np.zeros_like(a) if scores_b is None else np.asarray(scores_b, dtype=float)
    if a.ndim != 1 or len(a) < 2 or b.shape != a.shape:
        raise ValueError(
            "scores_a and scores_b must be 1-D, of one shape, with at least 2 paired scores "
            f"(one per split); got shapes {a.shape} and {b.shape}."
        )
    for name, value in (("n_train", n_train), ("n_test", n_test)):
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 < value < np.inf:
            raise ValueError(f"{name} must be a positive number of rows, got {value!r}.")
    _check_finite_scores(a)
    _check_finite_scores(b)
    with np.errstate(over="ignore", invalid="ignore"):
        diff = a - b
        if not np.isfinite(diff.var(ddof=1)):
            # t does not change with the scores' scale: huge scores, scaled, do not overflow.
            scale = max(np.abs(a).max(), np.abs(b).max())
            diff = a / scale - b / scale
    k = len(diff)
    variance = (1 / k + n_test / n_train) * diff.var(ddof=1)
    if variance == 0:
        return _no_spread(float(diff.mean()))
    t = diff.mean() / np.sqrt(variance)
    return SignificanceResult(float(t), float(2 * stats.t.sf(abs(t), df=k - 1)))


def _check_finite_scores(scores: np.ndarray) -> None:
    """A NaN or infinite score (a failed fit scored as NaN) makes every statistic NaN."""
    bad = np.flatnonzero(~np.isfinite(scores))
    if len(bad):
        raise ValueError(
            f"The scores of splits {bad.tolist()} are not finite (a fit that failed, or a "
            "model that predicts NaN); fix those fits before testing."
        )


def _no_spread(mean: float) -> SignificanceResult:
    """The paired differences do not vary: no t statistic exists. The result is
    documented and warned: equal models (t = 0, p = 1), or one always ahead by the same
    margin (t = +-inf, p = 0)."""
    if mean == 0:
        warn_user(
            "The two models scored the same on every split: no difference to test; "
            "returning statistic=0, pvalue=1.",
            UserWarning,
        )
        return SignificanceResult(0.0, 1.0)
    warn_user(
        f"One model is ahead by the same margin ({mean:+.4g}) on every split: the variance "
        "is zero; returning statistic=+-inf, pvalue=0.",
        UserWarning,
    )
    return SignificanceResult(float(np.copysign(np.inf, mean)), 0.0)


def mcnemar_test(y_true, y_pred1, y_pred2, *, exact: bool | None = None) -> SignificanceResult:
    """McNemar's test of two classifiers' errors on one test set.

    Only the disagreements count: ``b`` rows the first model gets right and the second
    wrong, ``c`` the reverse. The exact test is a two-sided binomial test of ``min(b, c)``
    in ``b + c`` draws at 1/2; the asymptotic one is ``(|b - c| - 1)^2 / (b + c)`` on a
    chi-square with 1 degree of freedom (with continuity correction, as mlxtend's default).

    Parameters
    ----------
    y_true, y_pred1, y_pred2 : array-like of shape (n_samples,)
    exact : bool or None, default=None
        None uses the exact test when ``b + c < 25``.

    Returns
    -------
    result : SignificanceResult
        ``statistic`` (``min(b, c)`` when exact, the chi-square value otherwise) and
        ``pvalue``.

    See Also
    --------
    corrected_resampled_ttest : a test on resampled scores.
    paired_ttest_5x2cv : Dietterich's 5x2cv test.

    Examples
    --------
    >>> from ensemblekit.model_selection import mcnemar_test
    >>> y = [0] * 10 + [1] * 10
    >>> a = [0] * 10 + [1] * 10          # all right
    >>> b = [0] * 4 + [1] * 6 + [1] * 10  # 6 wrong
    >>> r = mcnemar_test(y, a, b)
    >>> r.statistic, round(r.pvalue, 4)
    (0.0, 0.0312)
    """
    if exact is not None and not isinstance(exact, bool | np.bool_):
        raise ValueError(f"exact must be True, False or None (decide by count), got {exact!r}.")
    y_true, y_pred1, y_pred2 = (column_or_1d(a) for a in (y_true, y_pred1, y_pred2))
    check_consistent_length(y_true, y_pred1, y_pred2)
    if len(y_true) == 0:
        raise ValueError("mcnemar_test needs predictions of at least one row; got none.")
    for name, labels in (("y_true", y_true), ("y_pred1", y_pred1), ("y_pred2", y_pred2)):
        if labels.dtype.kind in "fc" and not np.isfinite(labels).all():
            raise ValueError(
                f"{name} holds NaN or infinity: every row needs a label (a NaN would count "
                "as a miss)."
            )
    right1, right2 = y_pred1 == y_true, y_pred2 == y_true
    b, c = int(np.sum(right1 & ~right2)), int(np.sum(~right1 & right2))
    if b + c == 0:
        return SignificanceResult(0.0, 1.0)
    if exact is None:
        exact = b + c < 25
    if exact:
        return SignificanceResult(
            float(min(b, c)), float(min(1.0, 2 * stats.binom.cdf(min(b, c), b + c, 0.5)))
        )
    chi2 = (abs(b - c) - 1.0) ** 2 / (b + c)
    return SignificanceResult(float(chi2), float(stats.chi2.sf(chi2, 1)))


@fill_doc(params=PARAMS_DOC)
def paired_ttest_5x2cv(
    estimator1, estimator2, X, y, *, scoring=None, variant: str = "t", random_state=None,
    n_jobs=None, params=None,
) -> SignificanceResult:  # fmt: skip
    """Dietterich's (1998) 5x2cv paired t-test, or Alpaydin's (1999) combined F-test.

    Five times, split the data in halves (``train_test_split(test_size=0.5)`` with a seed
    drawn as mlxtend draws it), train both models on each half and score them on the other.
    With ``p_i^(j)`` the score differences and ``s_i^2`` each repetition's variance: the t
    statistic is ``p_1^(1) / sqrt(mean_i s_i^2)`` on 5 degrees of freedom; the F statistic
    ``sum_ij (p_i^(j))^2 / (2 sum_i s_i^2)`` on (10, 5). The 20 fits run in parallel.

    Parameters
    ----------
    estimator1, estimator2 : estimators
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    scoring : str, callable or None, default=None
        None uses each estimator's ``score`` (accuracy, R²).
    variant : {"t", "f"}, default="t"
    random_state : None, int or RandomState, default=None
        An int gives mlxtend's splits (``paired_ttest_5x2cv`` / ``combined_ftest_5x2cv``).
    n_jobs : int or None, default=None
    {params}

    Returns
    -------
    result : SignificanceResult

    See Also
    --------
    corrected_resampled_ttest : a test on any resampled scores.
    mcnemar_test : a test on one test set.
    compare_models : several models at once.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import paired_ttest_5x2cv
    >>> X, y = load_iris(return_X_y=True)
    >>> r = paired_ttest_5x2cv(DecisionTreeClassifier(random_state=0), DummyClassifier(), X, y,
    ...                        random_state=0)
    >>> bool(r.statistic > 0), bool(r.pvalue < 0.05)
    (True, True)
    """
    if variant not in ("t", "f"):
        raise ValueError(f"variant must be 't' or 'f', got {variant!r}.")
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    check_consistent_length(X, y)  # else an IndexError from deep inside the splits
    rng = check_random_state(random_state)
    rows = np.arange(len(X))
    splits = []
    for _ in range(5):
        half1, half2 = train_test_split(rows, test_size=0.5, random_state=rng.randint(0, 32767))
        splits += [(half1, half2), (half2, half1)]
    # Both models train on the same splits with the same seeds, drawn from one state.
    diffs = []
    for estimator in (estimator1, estimator2):
        fit_params = routed_fit_params("paired_ttest_5x2cv", estimator, params)
        diffs.append(
            cross_fit(
                estimator, X, y, splits, scoring=scoring, n_jobs=n_jobs,
                random_state=copy.deepcopy(rng), fit_params=fit_params, predictions=False,
            )[1]
        )  # fmt: skip
    draw_seeds(rng, len(splits))  # a caller's generator moves on past the seeds
    d = (np.asarray(diffs[0]) - np.asarray(diffs[1])).reshape(5, 2)
    _check_finite_scores(d.ravel())
    variances = ((d - d.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    if variances.sum() == 0:
        return _no_spread(float(d.mean()))
    if variant == "t":
        t = d[0, 0] / np.sqrt(variances.mean())
        return SignificanceResult(float(t), float(2 * stats.t.sf(abs(t), df=5)))
    f = (d**2).sum() / (2 * variances.sum())
    return SignificanceResult(float(f), float(stats.f.sf(f, 10, 5)))


def holm(pvalues) -> np.ndarray:
    """Holm's (1979) step-down adjustment of p-values for several comparisons.

    Sorted ascending, the i-th smallest of m p-values becomes ``(m - i + 1) p_(i)``, made
    non-decreasing and capped at 1. It controls the family-wise error rate, as Bonferroni's
    ``m p`` does, and rejects at least as often.
    """
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out


_CORRECTIONS = {
    "holm": holm,
    "bonferroni": lambda p: np.minimum(1.0, len(p) * np.asarray(p, dtype=float)),
    None: lambda p: np.asarray(p, dtype=float),
}
