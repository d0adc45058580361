"""Scorers of the probabilistic metrics, for ``cross_validate``, searches and
``compare_models``: each predicts probabilities and passes the estimator's ``classes_``, so a
test fold that lacks a class is scored right."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier
from sklearn.metrics import check_scoring as sklearn_check_scoring
from sklearn.metrics import get_scorer_names

from ._calibration import expected_calibration_error, multiclass_brier_score
from ._intervals import CoverageScorer


class ProbabilityScorer:
    """``scorer(estimator, X, y)``: minus a probabilistic loss (higher is better, as
    scikit-learn's scorers), computed on ``estimator.predict_proba(X)`` with
    ``labels=estimator.classes_``.

    Parameters
    ----------
    metric : callable
        ``metric(y_true, y_proba, *, labels, sample_weight, **kwargs)``.
    name : str
        The scorer's name, as tables and reports show it.
    limits : tuple of float
        The range the score lies in.
    **kwargs
        Passed to ``metric`` (``n_bins``, ``strategy``, ``method``).

    Attributes
    ----------
    metric, limits, kwargs
        As given.
    __name__ : str
        ``name``, which scikit-learn's tools and our tables show.

    See Also
    --------
    multiclass_brier_score : a loss it can score with.
    expected_calibration_error : a loss it can score with.
    sklearn.metrics.make_scorer : scikit-learn's scorers.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from ensemblekit.metrics import ProbabilityScorer, expected_calibration_error
    >>> X, y = load_iris(return_X_y=True)
    >>> ece_5_bins = ProbabilityScorer(expected_calibration_error, "neg_ece_5", (-1.0, 0.0),
    ...                                n_bins=5)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y, scoring=ece_5_bins)
    >>> ece_5_bins, bool(-1 <= scores.min() <= scores.max() <= 0)
    (ProbabilityScorer(expected_calibration_error, n_bins=5), True)
    """

    def __init__(self, metric, name: str, limits: tuple[float, float], **kwargs):
        self.metric, self.__name__, self.limits, self.kwargs = metric, name, limits, kwargs

    def __call__(self, estimator, X, y, sample_weight=None) -> float:
        proba = estimator.predict_proba(X)
        loss = self.metric(
            y, proba, labels=estimator.classes_, sample_weight=sample_weight, **self.kwargs
        )
        return -float(loss)

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.kwargs.items())
        return f"ProbabilityScorer({self.metric.__name__}{extra})"


#: Scorers by name: pass one as ``scoring=``, or the dict (or some of it) for several.
scorers = {
    "neg_expected_calibration_error": ProbabilityScorer(
        expected_calibration_error, "neg_expected_calibration_error", (-1.0, 0.0)
    ),
    "neg_multiclass_brier_score": ProbabilityScorer(
        multiclass_brier_score, "neg_multiclass_brier_score", (-2.0, 0.0)
    ),
}

#: Every scorer this package names: the probabilistic ones (``scorers``, for any
#: classifier) and the conformal estimators' coverage and minus mean width or set size.
_BY_NAME = {
    **scorers,
    "coverage": CoverageScorer("coverage"),
    "neg_mean_size": CoverageScorer("size"),
}


def resolve_scoring(scoring):
    """``scoring`` as scikit-learn's ``check_scoring`` takes it, with this package's scorer
    names (a name, names in a list, or a dict's values) replaced by their scorers.

    Parameters
    ----------
    scoring : str, callable, list, tuple, set, dict or None
        Anything a ``scoring`` parameter takes.

    Returns
    -------
    scoring : str, callable, dict or None
        The same, with ``"neg_expected_calibration_error"``,
        ``"neg_multiclass_brier_score"``, ``"coverage"`` and ``"neg_mean_size"`` (of a
        conformal estimator, :class:`CoverageScorer`) as scorers; a list that names one
        becomes a dict of name to scorer. Other values are returned as they are.

    See Also
    --------
    check_scoring : the scorer itself, these names included.
    scorers : this package's scorers by name.

    Examples
    --------
    >>> from ensemblekit.metrics import resolve_scoring
    >>> resolve_scoring("accuracy")
    'accuracy'
    >>> type(resolve_scoring("neg_multiclass_brier_score")).__name__
    'ProbabilityScorer'
    """
    if isinstance(scoring, str):
        return _BY_NAME.get(scoring, scoring)
    if isinstance(scoring, list | tuple | set) and any(
        isinstance(name, str) and name in _BY_NAME for name in scoring
    ):
        return {name: _BY_NAME.get(name, name) for name in scoring}
    if isinstance(scoring, dict):
        return {k: _BY_NAME.get(v, v) if isinstance(v, str) else v for k, v in scoring.items()}
    return scoring


def check_scoring(estimator, scoring=None):
    """scikit-learn's ``check_scoring``, which also knows this package's scorer names.

    Parameters
    ----------
    estimator : estimator
        The estimator to score (None scores by ``estimator.score``).
    scoring : str, callable, list, tuple, dict or None, default=None
        As scikit-learn's ``check_scoring`` takes it, or one of :data:`scorers`' names.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)``; several names give a multi-metric scorer.

    See Also
    --------
    resolve_scoring : the names swapped for their scorers, nothing checked.
    scorer_names : every name ``scoring`` takes.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.metrics import check_scoring
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X, y)
    >>> scorer = check_scoring(model, "neg_multiclass_brier_score")
    >>> bool(-2 <= scorer(model, X, y) <= 0)
    True
    """
    return sklearn_check_scoring(estimator, scoring=resolve_scoring(scoring))


def scorer_names() -> list[str]:
    """Every scorer name ``scoring`` takes: scikit-learn's and this package's.

    Returns
    -------
    names : list of str
        Sorted.

    See Also
    --------
    check_scoring : the scorer of a name.

    Examples
    --------
    >>> from ensemblekit.metrics import scorer_names
    >>> "neg_expected_calibration_error" in scorer_names(), "accuracy" in scorer_names()
    (True, True)
    """
    return sorted({*get_scorer_names(), *_BY_NAME})


# Scores of known range, by scorer name: clipping an interval to them keeps an accuracy
# interval from reaching past 1. Unknown names and callables are not clipped.
_UNIT_SCORES = (
    "accuracy", "balanced_accuracy", "top_k_accuracy", "average_precision", "roc_auc", "f1",
    "precision", "recall", "jaccard", "rand_score", "fowlkes_mallows_score",
    "homogeneity_score", "completeness_score", "v_measure_score",
    "normalized_mutual_info_score",
)  # fmt: skip


def score_limits(scoring, estimator) -> tuple[float, float]:
    """The range ``scoring``'s values lie in, ``(-inf, inf)`` when unknown.

    An interval of scores is clipped to it (an accuracy interval never reaches past 1).

    Parameters
    ----------
    scoring : str, callable or None
        A scorer name, or a scorer: one that knows its range says so in a ``limits``
        attribute, as this package's do; other callables are not clipped.
    estimator : estimator or None
        For ``scoring=None``: its default score, accuracy for a classifier, R² otherwise.

    Returns
    -------
    low, high : float

    See Also
    --------
    scorer_names : the names it knows.

    Examples
    --------
    >>> from ensemblekit.metrics import score_limits
    >>> score_limits("neg_log_loss", None), score_limits("roc_auc", None)
    ((-inf, 0.0), (0.0, 1.0))
    """
    if scoring is None:
        return (0.0, 1.0) if is_classifier(estimator) else (-np.inf, 1.0)  # accuracy, R²
    scoring = resolve_scoring(scoring)
    if not isinstance(scoring, str):
        return getattr(scoring, "limits", (-np.inf, np.inf))  # ensemblekit's scorers know
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
