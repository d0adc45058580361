"""Honest comparisons of two or more models: paired tests with the right variances."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring
from sklearn.model_selection import (
    RepeatedKFold,
    RepeatedStratifiedKFold,
    check_cv,
    train_test_split,
)
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import MemberPlan, fit_members
from ..ensemble._cv import fit_folds
from ..utils._random import check_random_state, draw_seeds
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params


@dataclass(frozen=True)
class SignificanceResult:
    """A test's ``statistic`` and its two-sided ``pvalue``.

    Formerly ``TestResult``, a name pytest took for a test class in the modules that
    imported it; the old name still works, with a ``FutureWarning``, until 0.3.
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

    Examples
    --------
    >>> from ensemblekit.model_selection import corrected_resampled_ttest
    >>> r = corrected_resampled_ttest([0.02, 0.01, 0.03, 0.00, 0.04], n_train=80, n_test=20)
    >>> round(r.statistic, 4), round(r.pvalue, 4)
    (1.8856, 0.1324)
    """
    diff = np.asarray(scores_a, dtype=float)
    if scores_b is not None:
        diff = diff - np.asarray(scores_b, dtype=float)
    if diff.ndim != 1 or len(diff) < 2:
        raise ValueError(f"Need at least 2 paired scores, got shape {diff.shape}.")
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}.")
    _check_finite_scores(diff)
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
        warnings.warn(
            "The two models scored the same on every split: no difference to test; "
            "returning statistic=0, pvalue=1.",
            UserWarning,
            stacklevel=3,
        )
        return SignificanceResult(0.0, 1.0)
    warnings.warn(
        f"One model is ahead by the same margin ({mean:+.4g}) on every split: the variance "
        "is zero; returning statistic=+-inf, pvalue=0.",
        UserWarning,
        stacklevel=3,
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
    y_true, y_pred1, y_pred2 = (column_or_1d(a) for a in (y_true, y_pred1, y_pred2))
    check_consistent_length(y_true, y_pred1, y_pred2)
    if len(y_true) == 0:
        raise ValueError("mcnemar_test needs predictions of at least one row; got none.")
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
    """
    if variant not in ("t", "f"):
        raise ValueError(f"variant must be 't' or 'f', got {variant!r}.")
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    rng = check_random_state(random_state)
    rows = np.arange(len(X))
    splits = []
    for _ in range(5):
        half1, half2 = train_test_split(rows, test_size=0.5, random_state=rng.randint(0, 32767))
        splits += [(half1, half2), (half2, half1)]
    seeds = draw_seeds(rng, len(splits))
    diffs = []
    for estimator in (estimator1, estimator2):
        plans = [
            MemberPlan(int(s), rows=train) for s, (train, _) in zip(seeds, splits, strict=True)
        ]
        fit_params = routed_fit_params("paired_ttest_5x2cv", estimator, params)
        members = fit_members(
            estimator, X, y, plans, n_jobs=n_jobs, reseed="unset", fit_params=fit_params
        )
        scorer = check_scoring(estimator, scoring=scoring)
        diffs.append(
            [scorer(m, X[test], y[test]) for m, (_, test) in zip(members, splits, strict=True)]
        )
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


@dataclass(frozen=True)
class ComparisonRow:
    """One model's line in :func:`compare_models`' table."""

    name: str
    mean: float
    ci_low: float
    ci_high: float
    pvalue: float
    scores: np.ndarray

    def __repr__(self) -> str:
        return (
            f"ComparisonRow({self.name!r}, mean={self.mean:.4f}, "
            f"ci=[{self.ci_low:.4f}, {self.ci_high:.4f}], pvalue={self.pvalue:.4g})"
        )


class ComparisonTable(list):
    """Rows of :func:`compare_models`, best first, with a printable form and ``to_frame()``."""

    def __init__(self, rows, *, scoring: str, test: str, confidence_level: float):
        super().__init__(rows)
        self.scoring, self.test, self.confidence_level = scoring, test, confidence_level

    def to_frame(self):
        """The table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(
            [(r.name, r.mean, r.ci_low, r.ci_high, r.pvalue) for r in self],
            columns=["model", "mean", "ci_low", "ci_high", "pvalue"],
        ).set_index("model")

    def __str__(self) -> str:
        level = f"{self.confidence_level:.0%}"
        head = f"{'model':28s} {'mean':>8s}  {level + ' interval':>20s}  {'p vs best':>9s}"
        lines = [f"scoring: {self.scoring}; test: {self.test}", head]
        for r in self:
            lines.append(
                f"{r.name:28s} {r.mean:8.4f}  [{r.ci_low:8.4f}, {r.ci_high:8.4f}]  {r.pvalue:9.4g}"
            )
        return "\n".join(lines)


@fill_doc(params=PARAMS_DOC)
def compare_models(
    estimators: dict, X, y, *, cv=None, scoring=None, test: str = "corrected_ttest",
    confidence_level: float = 0.95, n_jobs=None, random_state=None, params=None,
) -> ComparisonTable:  # fmt: skip
    """Score several models on the same folds; mean, interval and p-value against the best.

    Every model is fitted on the same splits (in parallel, through the member engine); its
    interval and its p-value against the best model use Nadeau & Bengio's corrected variance
    ``(1/k + n_test/n_train) s^2``, since folds share training rows (``test="ttest"`` gives
    the plain paired t-test, which is too confident on CV folds).

    Parameters
    ----------
    estimators : dict of str to estimator
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    cv : splitter, int or None, default=None
        None: ``RepeatedStratifiedKFold(5, 2)`` for classifiers, ``RepeatedKFold(5, 2)``
        otherwise, seeded by ``random_state``.
    scoring : str, callable or None, default=None
        None uses each estimator's ``score``.
    test : {"corrected_ttest", "ttest"}, default="corrected_ttest"
    confidence_level : float, default=0.95
    n_jobs : int or None, default=None
    random_state : None or int, default=None
    {params}

    Returns
    -------
    table : ComparisonTable
        A list of ``ComparisonRow(name, mean, ci_low, ci_high, pvalue, scores)``, best first
        (the best's p-value is 1); ``print(table)`` and ``table.to_frame()``.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> table = compare_models({"logistic": make_pipeline(StandardScaler(), LogisticRegression()),
    ...                         "tree": DecisionTreeClassifier(random_state=0)}, X, y,
    ...                        random_state=0)
    >>> [row.name for row in table], bool(table[1].pvalue < 0.05)
    (['logistic', 'tree'], True)
    """
    if test not in ("corrected_ttest", "ttest"):
        raise ValueError(f"test must be 'corrected_ttest' or 'ttest', got {test!r}.")
    if not isinstance(estimators, dict) or len(estimators) < 1:
        raise ValueError(
            "estimators must be a non-empty dict of name: estimator, got "
            f"{type(estimators).__name__}."
        )
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    first = next(iter(estimators.values()))
    if cv is None:
        seed = int(draw_seeds(random_state, 1)[0])
        splitter = RepeatedStratifiedKFold if is_classifier(first) else RepeatedKFold
        cv = splitter(n_splits=5, n_repeats=2, random_state=seed)
    splits = list(check_cv(cv, y, classifier=is_classifier(first)).split(X, y))
    n_test = float(np.mean([len(test) for _, test in splits]))
    n_train = float(np.mean([len(train) for train, _ in splits]))
    scores = {
        name: fit_folds(
            est,
            X,
            y,
            splits,
            scoring=scoring,
            n_jobs=n_jobs,
            random_state=random_state,
            fit_params=routed_fit_params("compare_models", est, params),
            predictions=False,
        )[1]
        for name, est in estimators.items()
    }
    for name, s in scores.items():
        try:
            _check_finite_scores(s)
        except ValueError as error:
            raise ValueError(f"Model {name!r}: {error}") from error
    best = max(scores, key=lambda name: scores[name].mean())
    k = len(splits)
    correction = (1 / k + n_test / n_train) if test == "corrected_ttest" else 1 / k
    half = stats.t.ppf(0.5 + confidence_level / 2, df=k - 1)
    rows = []
    for name, s in sorted(scores.items(), key=lambda item: -item[1].mean()):
        spread = half * np.sqrt(correction * s.var(ddof=1))
        if name == best:
            pvalue = 1.0
        elif test == "corrected_ttest":
            pvalue = corrected_resampled_ttest(
                scores[best], s, n_train=n_train, n_test=n_test
            ).pvalue
        else:
            pvalue = float(stats.ttest_rel(scores[best], s).pvalue)
        rows.append(
            ComparisonRow(
                name, float(s.mean()), float(s.mean() - spread), float(s.mean() + spread), pvalue, s
            )
        )
    label = scoring if isinstance(scoring, str) else ("score" if scoring is None else "custom")
    return ComparisonTable(rows, scoring=label, test=test, confidence_level=confidence_level)
