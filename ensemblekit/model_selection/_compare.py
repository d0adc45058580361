"""Honest comparisons of two or more models: paired tests with the right variances."""

from __future__ import annotations

import difflib
import textwrap
import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy import stats
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import (
    RepeatedKFold,
    RepeatedStratifiedKFold,
    check_cv,
    train_test_split,
)
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import MemberPlan, fit_members
from ..ensemble._cv import fit_folds
from ..metrics._scorers import limits_of
from ..utils._optional import import_optional
from ..utils._random import check_random_state, draw_seeds
from ..utils._results import ArrayFieldsEqual
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


@dataclass(frozen=True, eq=False)
class ComparisonRow(ArrayFieldsEqual):
    """One model's line in :func:`compare_models`' table.

    Attributes
    ----------
    name : str
    mean : float
        Mean score over the folds.
    ci_low, ci_high : float
        Interval of the mean at the table's confidence level, with the variance the table's
        test uses, clipped to the range of the metric where it is known (accuracy in [0, 1],
        ``neg_*`` scores at most 0).
    diff : float
        ``mean - best.mean``: 0 for the best model, negative for the others.
    diff_low, diff_high : float
        Interval of the paired difference to the best, at the same level (not adjusted
        for the number of comparisons; ``pvalue_adjusted`` is).
    pvalue : float
        Two-sided p-value of the paired test against the best (1 for the best).
    pvalue_adjusted : float
        ``pvalue`` after the table's multiple-comparison correction (Holm's by default).
    significant : bool
        ``pvalue_adjusted < 1 - confidence_level``: the best is ahead of this model beyond
        the noise of the folds.
    scores : ndarray of shape (n_splits,)
        The score on each fold, in the splitter's order (the same folds for every model).

    See Also
    --------
    compare_models : the function whose table holds it.
    ComparisonTable : the rows of one scorer.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> row = compare_models(models, X, y, cv=5, scoring="accuracy", random_state=0)[1]
    >>> row.name, round(row.mean, 3), round(row.diff, 3), row.significant, row.scores.shape
    ('prior', 0.333, -0.6, True, (5,))
    """

    name: str
    mean: float
    ci_low: float
    ci_high: float
    diff: float
    diff_low: float
    diff_high: float
    pvalue: float
    pvalue_adjusted: float
    significant: bool
    scores: np.ndarray

    def __repr__(self) -> str:
        return (
            f"ComparisonRow({self.name!r}, mean={self.mean:.4f}, "
            f"ci=[{self.ci_low:.4f}, {self.ci_high:.4f}], diff={self.diff:+.4f}, "
            f"pvalue={self.pvalue:.4g}, pvalue_adjusted={self.pvalue_adjusted:.4g})"
        )


_COLUMNS = [
    "mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high", "pvalue",
    "pvalue_adjusted", "significant",
]  # fmt: skip


class ComparisonTable(list):
    """Rows of :func:`compare_models` for one scorer, best first.

    ``print(table)`` shows the table and a sentence saying which differences are beyond
    the noise; ``table.summary`` is that sentence, ``table.best`` the best row,
    ``table.to_frame()`` a pandas DataFrame and ``table.plot()`` a
    :class:`ComparisonDisplay`.

    Parameters
    ----------
    rows : list of ComparisonRow
        Best first.
    scoring : str
        The scorer's name.
    test : {"corrected_ttest", "ttest"}
        The paired test behind the intervals and p-values.
    confidence_level : float
    correction : {"holm", "bonferroni"} or None
        The adjustment of the p-values for the number of comparisons.

    Attributes
    ----------
    best : ComparisonRow
        The first row.
    summary : str
        One sentence: which models the best is significantly ahead of.
    scoring, test, confidence_level, correction
        As given.

    See Also
    --------
    compare_models : the function that returns it.
    ComparisonTables : one table per scorer.
    ComparisonDisplay : its plot.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> table = compare_models(models, X, y, cv=5, scoring="accuracy", random_state=0)
    >>> table.best.name, [row.name for row in table], table.to_frame().shape
    ('tree', ['tree', 'prior'], (2, 9))
    """

    def __init__(self, rows, *, scoring: str, test: str, confidence_level: float, correction):
        super().__init__(rows)
        self.scoring, self.test = scoring, test
        self.confidence_level, self.correction = confidence_level, correction

    @property
    def best(self) -> ComparisonRow:
        """The row with the best mean score."""
        return self[0]

    @property
    def summary(self) -> str:
        """One plain sentence: is the best model significantly ahead, and of which models."""
        alpha = 1 - self.confidence_level
        p_name = "p" if self.correction is None else f"{self.correction.capitalize()}-adjusted p"
        best, others = self[0], self[1:]
        if not others:
            return f"Only one model, {best.name!r}: nothing to compare it with."
        ahead = [r for r in others if r.significant]
        tied = [r for r in others if not r.significant]
        if not ahead:
            closest = min(tied, key=lambda r: r.pvalue_adjusted)
            return (
                f"No model is significantly ahead: {best.name!r} has the best mean "
                f"{self.scoring}, but its lead over every other model is within the noise "
                f"of these folds ({p_name} >= {alpha:g}; the smallest is "
                f"{closest.pvalue_adjusted:.3g}, against {closest.name!r})."
            )
        if not tied:
            return (
                f"{best.name!r} is significantly ahead of every other model on {self.scoring} "
                f"({p_name} < {alpha:g})."
            )
        return (
            f"{best.name!r} is significantly ahead of {_names(ahead)} on {self.scoring} "
            f"({p_name} < {alpha:g}), but its lead over {_names(tied)} is within the noise "
            f"of these folds ({p_name} >= {alpha:g})."
        )

    def to_frame(self):
        """The table as a pandas DataFrame indexed by model (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(
            [[getattr(r, c) for c in _COLUMNS] for r in self],
            columns=_COLUMNS,
            index=pd.Index([r.name for r in self], name="model"),
        )

    def plot(self, ax=None, *, kind: str = "scores"):
        """Draw the table (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            A new figure if None.
        kind : {"scores", "difference"}, default="scores"
            See :meth:`ComparisonDisplay.plot`.

        Returns
        -------
        display : ComparisonDisplay
        """
        from ._compare_display import ComparisonDisplay

        return ComparisonDisplay(self).plot(ax=ax, kind=kind)

    def __str__(self) -> str:
        level = f"{self.confidence_level:.0%}"
        width = max(5, *(len(r.name) for r in self))
        adjusted = "p" if self.correction is None else f"p ({self.correction})"
        test = "corrected resampled t-test" if self.test == "corrected_ttest" else "paired t-test"
        lines = [
            f"{self.scoring}, {len(self[0].scores)} folds; {level} intervals and p against "
            f"the best by the {test}",
            f"{'model':{width}s} {'mean':>8s} {level + ' interval':>20s}  "
            f"{'vs best':>8s} {level + ' interval':>20s} {adjusted:>10s}",
        ]
        for r in self:
            interval = f"[{r.ci_low:.4f}, {r.ci_high:.4f}]"
            line = f"{r.name:{width}s} {r.mean:8.4f} {interval:>20s}"
            if r is self[0]:
                lines.append(f"{line}  {'best':>8s}")
                continue
            mark = " *" if r.significant else ""
            interval = f"[{r.diff_low:+.4f}, {r.diff_high:+.4f}]"
            lines.append(f"{line}  {r.diff:+8.4f} {interval:>20s} {r.pvalue_adjusted:10.3g}{mark}")
        lines.append(textwrap.fill(self.summary, width=88, break_on_hyphens=False))
        return "\n".join(lines)


class ComparisonTables(dict):
    """:func:`compare_models` with several scorers: scorer name -> :class:`ComparisonTable`.

    Each table is ranked by its own scorer. ``print(tables)`` prints them in turn,
    ``tables.to_frame()`` stacks them (index: scorer, model) and ``tables.plot()`` draws
    one panel per scorer.

    See Also
    --------
    compare_models : the function that returns it.
    ComparisonTable : the table of one scorer.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_iris(return_X_y=True)
    >>> models = {"tree": DecisionTreeClassifier(max_depth=2, random_state=0),
    ...           "prior": DummyClassifier()}
    >>> tables = compare_models(models, X, y, cv=5, scoring=["accuracy", "neg_log_loss"],
    ...                         random_state=0)
    >>> list(tables), tables["neg_log_loss"].best.name
    (['accuracy', 'neg_log_loss'], 'tree')
    """

    def to_frame(self):
        """All tables as one pandas DataFrame indexed by (scoring, model) (needs pandas)."""
        import pandas as pd

        return pd.concat({name: table.to_frame() for name, table in self.items()}, names=[
            "scoring", "model"
        ])  # fmt: skip

    def plot(self, *, kind: str = "scores", axes=None) -> dict:
        """One :class:`ComparisonDisplay` per scorer, side by side (needs matplotlib).

        Parameters
        ----------
        kind : {"scores", "difference"}, default="scores"
        axes : sequence of matplotlib Axes or None, default=None
            One per scorer; None makes a new figure.

        Returns
        -------
        displays : dict of str to ComparisonDisplay
        """
        plt = import_optional("matplotlib.pyplot", "Plotting")
        if axes is None:
            _, axes = plt.subplots(
                1, len(self), figsize=(5 * len(self), 0.5 * len(next(iter(self.values()))) + 1.5),
                constrained_layout=True, squeeze=False,
            )  # fmt: skip
            axes = axes[0]
        if len(axes) != len(self):
            raise ValueError(f"axes must hold {len(self)} Axes, one per scorer; got {len(axes)}.")
        return {
            name: table.plot(ax=ax, kind=kind)
            for (name, table), ax in zip(self.items(), axes, strict=True)
        }

    def __str__(self) -> str:
        return "\n\n".join(str(table) for table in self.values())


def _names(rows) -> str:
    return ", ".join(repr(r.name) for r in rows)


# Scores of known range, by scorer name: clipping an interval to them keeps an accuracy
# interval from reaching past 1. Unknown names and callables are not clipped.
_UNIT_SCORES = (
    "accuracy", "balanced_accuracy", "top_k_accuracy", "average_precision", "roc_auc", "f1",
    "precision", "recall", "jaccard", "rand_score", "fowlkes_mallows_score",
    "homogeneity_score", "completeness_score", "v_measure_score",
    "normalized_mutual_info_score",
)  # fmt: skip


def score_limits(scoring, estimator) -> tuple[float, float]:
    """The range a scorer's values lie in, ``(-inf, inf)`` when unknown."""
    if scoring is None:
        return (0.0, 1.0) if is_classifier(estimator) else (-np.inf, 1.0)  # accuracy, R²
    if not isinstance(scoring, str):
        return limits_of(scoring)  # ensemblekit.metrics' scorers know theirs
    base = scoring
    for suffix in ("_ovr_weighted", "_ovo_weighted", "_ovr", "_ovo", "_micro", "_macro",
                   "_weighted", "_samples"):  # fmt: skip
        base = base.removesuffix(suffix)
    if base in _UNIT_SCORES:
        return (0.0, 1.0)
    if scoring.startswith("neg_"):
        return (-np.inf, 0.0)
    if scoring in ("r2", "explained_variance") or scoring.startswith("d2_"):
        return (-np.inf, 1.0)
    if scoring == "matthews_corrcoef":
        return (-1.0, 1.0)
    return (-np.inf, np.inf)


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


def _check_estimators(estimators) -> dict:
    """A dict of name: estimator, or a list of (name, estimator) pairs, as Pipeline takes."""
    fix = (
        "pass a dict of name: estimator, e.g. {'logistic': LogisticRegression(), 'net': "
        "NeuralNetClassifier()}, or a list of (name, estimator) pairs"
    )
    if isinstance(estimators, dict):
        pairs = list(estimators.items())
    elif isinstance(estimators, list | tuple) and all(
        isinstance(p, tuple) and len(p) == 2 for p in estimators
    ):
        pairs = list(estimators)
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"estimators has repeated names {names}; give each model its own.")
    else:
        raise TypeError(f"estimators must name its models: {fix}; got {estimators!r:.120}.")
    if not pairs:
        raise ValueError(f"estimators is empty: {fix}.")
    for name, estimator in pairs:
        if not isinstance(name, str):
            raise TypeError(f"estimators' names must be strings, got {name!r}: {fix}.")
        if not hasattr(estimator, "fit"):
            raise TypeError(
                f"estimators[{name!r}] is {estimator!r:.80}, which has no fit method: "
                "pass an unfitted scikit-learn estimator."
            )
    return dict(pairs)


def _check_scoring(scoring, estimators: dict) -> list[str] | None:
    """Validate ``scoring`` for every model before any fit; the scorer names when several."""
    multiple = isinstance(scoring, list | tuple | set | dict)
    names = list(scoring) if multiple else [scoring]
    if multiple and not names:
        raise ValueError("scoring is empty: pass a scorer name, a list of names or None.")
    known = get_scorer_names()
    for entry in scoring.values() if isinstance(scoring, dict) else names:
        if isinstance(entry, str) and entry not in known:
            close = difflib.get_close_matches(entry, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"scoring {entry!r} is not a scorer name; {hint}sklearn.metrics."
                "get_scorer_names() lists them (or pass a callable from make_scorer)."
            )
    for name, estimator in estimators.items():
        try:
            check_scoring(estimator, scoring=scoring)
        except (TypeError, ValueError) as error:
            raise type(error)(f"scoring for estimators[{name!r}]: {error}") from error
    return [str(n) for n in names] if multiple else None


def _scoring_label(scoring, estimator) -> str:
    if isinstance(scoring, str):
        return scoring
    if scoring is None:
        return "score (accuracy)" if is_classifier(estimator) else "score (R²)"
    return getattr(scoring, "__name__", repr(scoring))


def _interval(diff: np.ndarray, correction: float, half: float) -> tuple[float, float, float]:
    """Mean of paired differences, the half-width of its interval and the two-sided p."""
    mean = float(diff.mean())
    variance = correction * diff.var(ddof=1)
    if variance == 0:  # no spread: a sure difference, or none
        return mean, 0.0, float(mean == 0)
    t = mean / np.sqrt(variance)
    return mean, half * float(np.sqrt(variance)), float(2 * stats.t.sf(abs(t), df=len(diff) - 1))


def _table(
    scores: dict, *, scoring: str, limits, test, confidence_level, correction, n_train, n_test
) -> ComparisonTable:
    k = len(next(iter(scores.values())))
    inflation = (1 / k + n_test / n_train) if test == "corrected_ttest" else 1 / k
    half = stats.t.ppf(0.5 + confidence_level / 2, df=k - 1)
    ranked = sorted(scores, key=lambda name: -scores[name].mean())  # stable: ties keep order
    best = scores[ranked[0]]
    low, high = limits
    reach = high - low  # the largest possible difference (inf when unbounded)
    stats_ = {}
    for name in ranked:
        mean, spread, _ = _interval(scores[name], inflation, half)
        diff, diff_spread, pvalue = _interval(scores[name] - best, inflation, half)
        stats_[name] = (mean, spread, diff, diff_spread, pvalue)
    adjusted = dict(
        zip(ranked[1:], _CORRECTIONS[correction]([stats_[n][4] for n in ranked[1:]]), strict=True)
    )
    alpha = 1 - confidence_level
    rows = []
    for name in ranked:
        mean, spread, diff, diff_spread, pvalue = stats_[name]
        p_adj = float(adjusted.get(name, 1.0))
        rows.append(
            ComparisonRow(
                name,
                mean,
                float(max(low, mean - spread)),
                float(min(high, mean + spread)),
                diff,
                float(max(-reach, diff - diff_spread)),
                float(min(reach, diff + diff_spread)),
                pvalue if name != ranked[0] else 1.0,
                p_adj,
                bool(name != ranked[0] and p_adj < alpha),
                scores[name],
            )
        )
    return ComparisonTable(
        rows, scoring=scoring, test=test, confidence_level=confidence_level, correction=correction
    )


@fill_doc(params=PARAMS_DOC)
def compare_models(
    estimators, X, y, *, cv=None, scoring=None, test: str = "corrected_ttest",
    confidence_level: float = 0.95, correction: str | None = "holm", n_jobs=None,
    random_state=None, params=None,
) -> ComparisonTable | ComparisonTables:  # fmt: skip
    """Score several models on the same folds and say which differences are real.

    Every model is fitted on the same splits (in parallel, through the member engine).
    For each model the table gives its mean score with an interval, and its paired
    difference to the best model with an interval and a p-value. Folds share training
    rows, so both use Nadeau & Bengio's corrected variance ``(1/k + n_test/n_train) s^2``
    (``test="ttest"`` gives the plain paired t-test, which is too confident on CV folds).
    Comparing the best with m other models is m tests: the p-values are adjusted for that
    (Holm's method by default), and a plain sentence says which models the best is
    significantly ahead of, if any.

    Parameters
    ----------
    estimators : dict of str to estimator, or list of (str, estimator) pairs
        The models, by name. Each is cloned for every fold.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    cv : splitter, int or None, default=None
        None: ``RepeatedStratifiedKFold(5, 2)`` for classifiers, ``RepeatedKFold(5, 2)``
        otherwise, seeded by ``random_state``. Needs at least 2 splits.
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As ``cross_validate`` takes it. One scorer gives one table; several (a list of
        names, or a dict of name: scorer) give one table per scorer. None uses each
        estimator's ``score``.
    test : {"corrected_ttest", "ttest"}, default="corrected_ttest"
    confidence_level : float, default=0.95
        Level of the intervals; ``1 - confidence_level`` is the significance level.
    correction : {"holm", "bonferroni"} or None, default="holm"
        Adjustment of the p-values against the best for the number of comparisons.
    n_jobs : int or None, default=None
    random_state : None or int, default=None
    {params}

    Returns
    -------
    table : ComparisonTable or ComparisonTables
        For one scorer, a list of :class:`ComparisonRow` (``mean``, ``ci_low``,
        ``ci_high``, ``diff``, ``diff_low``, ``diff_high``, ``pvalue``,
        ``pvalue_adjusted``, ``significant``, ``scores``), best first, with ``summary``,
        ``to_frame()`` and ``plot()``. For several scorers, a dict of scorer name to table.

    See Also
    --------
    corrected_resampled_ttest : the test behind the p-values, for two models.
    paired_ttest_5x2cv : Dietterich's 5x2cv test, for two models.
    ComparisonDisplay : the table drawn.

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
    ...                        scoring="accuracy", random_state=0)
    >>> [row.name for row in table], table[1].significant
    (['logistic', 'tree'], True)
    >>> print(table.summary)  # doctest: +NORMALIZE_WHITESPACE
    'logistic' is significantly ahead of every other model on accuracy
    (Holm-adjusted p < 0.05).
    """
    if test not in ("corrected_ttest", "ttest"):
        raise ValueError(f"test must be 'corrected_ttest' or 'ttest', got {test!r}.")
    if correction not in _CORRECTIONS:
        raise ValueError(f"correction must be 'holm', 'bonferroni' or None, got {correction!r}.")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")
    estimators = _check_estimators(estimators)
    names = _check_scoring(scoring, estimators)
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    check_consistent_length(X, y)
    first = next(iter(estimators.values()))
    if cv is None:
        seed = int(draw_seeds(random_state, 1)[0])
        splitter = RepeatedStratifiedKFold if is_classifier(first) else RepeatedKFold
        cv = splitter(n_splits=5, n_repeats=2, random_state=seed)
    splits = list(check_cv(cv, y, classifier=is_classifier(first)).split(X, y))
    if len(splits) < 2:
        raise ValueError(f"cv gives {len(splits)} split; the tests need at least 2.")
    fit_params = {
        name: routed_fit_params("compare_models", est, params) for name, est in estimators.items()
    }
    n_test = float(np.mean([len(test) for _, test in splits]))
    n_train = float(np.mean([len(train) for train, _ in splits]))
    scores = {
        name: fit_folds(
            est, X, y, splits, scoring=scoring, n_jobs=n_jobs, random_state=random_state,
            fit_params=fit_params[name], predictions=False,
        )[1]
        for name, est in estimators.items()
    }  # fmt: skip
    by_scorer = (
        {_scoring_label(scoring, first): scores}
        if names is None
        else {n: {model: s[n] for model, s in scores.items()} for n in names}
    )
    limits = {
        label: score_limits(scoring if names is None else _entry(scoring, label), first)
        for label in by_scorer
    }
    tables = comparison_tables(
        by_scorer, limits, test=test, confidence_level=confidence_level,
        correction=correction, n_train=n_train, n_test=n_test,
    )  # fmt: skip
    return tables.popitem()[1] if names is None else tables


def comparison_tables(
    by_scorer: dict, limits: dict, *, test: str, confidence_level: float, correction,
    n_train: float, n_test: float,
) -> ComparisonTables:  # fmt: skip
    """The tables of per-fold scores already computed: ``{scorer: {model: scores}}``.

    ``limits`` gives each scorer's range (:func:`score_limits`); ``n_train`` and ``n_test``
    are the mean rows of a split's two parts, for the corrected variance.
    """
    tables = ComparisonTables()
    for label, per_model in by_scorer.items():
        for name, s in per_model.items():
            try:
                _check_finite_scores(s)
            except ValueError as error:
                raise ValueError(f"Model {name!r}, {label}: {error}") from error
        tables[label] = _table(
            per_model, scoring=label, limits=limits[label], test=test,
            confidence_level=confidence_level, correction=correction, n_train=n_train,
            n_test=n_test,
        )  # fmt: skip
    return tables


def _entry(scoring, name: str):
    """The scorer a multi-metric ``scoring`` gives for ``name``: the name or the callable."""
    return scoring[name] if isinstance(scoring, dict) else name
