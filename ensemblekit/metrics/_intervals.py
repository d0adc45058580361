"""How well prediction intervals and sets cover, and how wide or large they are."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils.validation import check_consistent_length, column_or_1d


def _check_intervals(y_true, intervals) -> tuple[np.ndarray, np.ndarray]:
    y_true = column_or_1d(y_true).astype(float)
    intervals = np.asarray(intervals, dtype=float)
    if intervals.ndim not in (2, 3) or intervals.shape[1] != 2:
        raise ValueError(
            "intervals must have shape (n_samples, 2) or (n_samples, 2, n_levels), as "
            f"predict_interval returns them, got {intervals.shape}."
        )
    check_consistent_length(y_true, intervals)
    if not len(y_true):
        raise ValueError("y_true is empty: coverage and width need at least one row.")
    if np.isnan(y_true).any() or np.isnan(intervals).any():
        raise ValueError("y_true and intervals must not hold NaN.")
    if np.any(intervals[:, 0] > intervals[:, 1]):
        raise ValueError("intervals has a lower bound above its upper bound.")
    return y_true, intervals


def coverage_score(y_true, intervals):
    """The share of targets inside their intervals, bounds included.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    intervals : array-like of shape (n_samples, 2) or (n_samples, 2, n_levels)
        Lower and upper bounds, as ``predict_interval`` returns them.

    Returns
    -------
    coverage : float, or ndarray of shape (n_levels,)

    See Also
    --------
    mean_width_score : the intervals' mean width.
    ensemblekit.conformal.ConformalRegressor : intervals with a coverage guarantee.

    Examples
    --------
    >>> from ensemblekit.metrics import coverage_score
    >>> coverage_score([1.0, 2.0, 5.0], [[0, 1], [2.5, 3], [4, 6]])
    0.6666666666666666
    """
    y_true, intervals = _check_intervals(y_true, intervals)
    y = y_true.reshape(-1, *[1] * (intervals.ndim - 2))
    inside = (intervals[:, 0] <= y) & (y <= intervals[:, 1])
    coverage = inside.mean(axis=0)
    return float(coverage) if np.ndim(coverage) == 0 else coverage


def mean_width_score(y_true, intervals):
    """The intervals' mean width (upper minus lower bound); ``y_true`` only for its length.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    intervals : array-like of shape (n_samples, 2) or (n_samples, 2, n_levels)

    Returns
    -------
    width : float, or ndarray of shape (n_levels,)

    See Also
    --------
    coverage_score : the share of targets inside their intervals.
    ensemblekit.conformal.ConformalRegressor : intervals with a coverage guarantee.

    Examples
    --------
    >>> from ensemblekit.metrics import mean_width_score
    >>> mean_width_score([1.0, 2.0], [[0, 1], [1, 4]])
    2.0
    """
    _, intervals = _check_intervals(y_true, intervals)
    width = (intervals[:, 1] - intervals[:, 0]).mean(axis=0)
    return float(width) if np.ndim(width) == 0 else width


def _check_sets(y_true, sets, classes) -> tuple[np.ndarray, np.ndarray]:
    """``sets`` as booleans and ``y_true`` as their columns; a ValueError naming labels
    the sets have no column for."""
    sets = np.asarray(sets)
    if sets.ndim not in (2, 3) or sets.dtype != bool:
        raise ValueError(
            "sets must be booleans of shape (n_samples, n_classes) or (n_samples, n_classes, "
            f"n_levels), as predict_set returns them, got {sets.dtype} {sets.shape}."
        )
    y_true = column_or_1d(y_true)
    check_consistent_length(y_true, sets)
    if not len(y_true):
        raise ValueError("y_true is empty: coverage and set size need at least one row.")
    if classes is None:
        classes = np.arange(sets.shape[1])
    classes = np.asarray(classes)
    if len(classes) != sets.shape[1]:
        raise ValueError(
            f"classes has {len(classes)} labels but sets has {sets.shape[1]} columns; pass "
            "the model's classes_."
        )
    unseen = ~np.isin(y_true, classes)
    if unseen.any():
        raise ValueError(
            f"y_true holds labels the sets have no column for: "
            f"{np.unique(y_true[unseen]).tolist()[:10]}. Pass classes=model.classes_, and "
            "score only classes the model was fitted on."
        )
    order = np.argsort(classes)
    return order[np.searchsorted(classes, y_true, sorter=order)], sets


def set_coverage_score(y_true, sets, *, classes=None):
    """The share of true labels inside their prediction sets.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    sets : array-like of bool of shape (n_samples, n_classes) or (n_samples, n_classes, n_levels)
        As ``predict_set`` returns them.
    classes : array-like of shape (n_classes,), default=None
        The label of each column (the model's ``classes_``); None: ``y_true`` holds
        column positions 0 to n_classes - 1.

    Returns
    -------
    coverage : float, or ndarray of shape (n_levels,)

    See Also
    --------
    mean_set_size : the sets' mean size.
    ensemblekit.conformal.ConformalClassifier : sets with a coverage guarantee.

    Examples
    --------
    >>> from ensemblekit.metrics import set_coverage_score
    >>> sets = [[True, False], [True, True], [False, True]]
    >>> set_coverage_score(["a", "b", "a"], sets, classes=["a", "b"])
    0.6666666666666666
    """
    columns, sets = _check_sets(y_true, sets, classes)
    coverage = sets[np.arange(len(columns)), columns].mean(axis=0)
    return float(coverage) if np.ndim(coverage) == 0 else coverage


def mean_set_size(y_true, sets):
    """The prediction sets' mean size (labels per set); ``y_true`` only for its length.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    sets : array-like of bool of shape (n_samples, n_classes) or (n_samples, n_classes, n_levels)

    Returns
    -------
    size : float, or ndarray of shape (n_levels,)

    See Also
    --------
    set_coverage_score : the share of true labels inside their sets.

    Examples
    --------
    >>> from ensemblekit.metrics import mean_set_size
    >>> mean_set_size([0, 1], [[True, False], [True, True]])
    1.5
    """
    sets = np.asarray(sets)
    _check_sets(np.zeros(len(sets), dtype=int), sets, None)
    check_consistent_length(column_or_1d(y_true), sets)
    size = sets.sum(axis=1).mean(axis=0)
    return float(size) if np.ndim(size) == 0 else size


def conditional_coverage(y_true, prediction, *, by="size", classes=None, n_bins=4):
    """Coverage within groups of rows: does each class, or each kind of row, get it?

    A conformal guarantee is marginal: over all rows together. Rows of a rare class, or
    rows where the model is sure, may be covered less; this shows it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    prediction : array-like of shape (n_samples, 2) or (n_samples, n_classes)
        Intervals (``predict_interval``) or boolean sets (``predict_set``), at one level.
    by : {"size", "class"} or array-like of shape (n_samples,), default="size"
        ``"size"``: bins of interval width (``n_bins`` of equal row counts) or each set
        size; ``"class"`` (sets): the true label; or one group label per row.
    classes : array-like of shape (n_classes,), default=None
        Sets only: the label of each column, as for :func:`set_coverage_score`.
    n_bins : int, default=4

    Returns
    -------
    result : Bunch
        ``group`` (a label, a set size, or a width bin's upper edge), ``rows``,
        ``coverage`` and ``mean_size`` (width or set size), one entry per group; put it in
        ``pandas.DataFrame(result)`` for a table.

    See Also
    --------
    coverage_score, set_coverage_score : the marginal coverage.

    Examples
    --------
    >>> from ensemblekit.metrics import conditional_coverage
    >>> sets = [[True, False], [True, True], [False, False], [False, True]]
    >>> result = conditional_coverage([0, 1, 1, 1], sets, by="class")
    >>> result.group.tolist(), result.coverage.tolist()
    ([0, 1], [1.0, 0.6666666666666666])
    """
    prediction = np.asarray(prediction)
    if prediction.ndim != 2:
        raise ValueError(
            f"prediction must be at one level, shape (n_samples, 2) or (n_samples, "
            f"n_classes), got {prediction.shape}; pick one: prediction[..., j]."
        )
    if prediction.dtype == bool:
        columns, sets = _check_sets(y_true, prediction, classes)
        inside, size = sets[np.arange(len(columns)), columns], sets.sum(axis=1).astype(float)
        labels = np.arange(sets.shape[1]) if classes is None else np.asarray(classes)
        true_label = labels[columns]
    else:
        y, intervals = _check_intervals(y_true, prediction)
        inside = (intervals[:, 0] <= y) & (y <= intervals[:, 1])
        size, true_label = intervals[:, 1] - intervals[:, 0], None
    if isinstance(by, str) and by == "class":
        if true_label is None:
            raise ValueError('by="class" groups sets by their true label; intervals take "size".')
        groups = true_label
    elif isinstance(by, str) and by == "size":
        if true_label is None:  # width bins of equal row counts, named by their upper edge
            edges = np.unique(np.quantile(size, np.linspace(0, 1, n_bins + 1)[1:]))
            groups = edges[np.minimum(np.searchsorted(edges, size), len(edges) - 1)]
        else:
            groups = size.astype(int)
    elif isinstance(by, str):
        raise ValueError(f'by must be "size", "class" or one group label per row, got {by!r}.')
    else:
        groups = column_or_1d(by)
        check_consistent_length(groups, inside)
    names, index = np.unique(groups, return_inverse=True)
    rows = np.bincount(index, minlength=len(names))
    return Bunch(
        group=names,
        rows=rows,
        coverage=np.bincount(index, weights=inside, minlength=len(names)) / rows,
        mean_size=np.bincount(index, weights=size, minlength=len(names)) / rows,
    )


class CoverageScorer:
    """``scorer(estimator, X, y)``: the coverage, or minus the mean width or set size, of
    a conformal estimator's intervals or sets at its first confidence level; for
    ``cross_validate``, searches and studies.

    Parameters
    ----------
    what : {"coverage", "size"}
        The share of targets covered, or minus the mean width (intervals) or set size
        (sets): smaller is better, as scikit-learn's scorers want higher to be better.

    Attributes
    ----------
    what : str
        As given.
    limits : tuple of float
        The range the score lies in.
    __name__ : str
        ``"coverage"`` or ``"neg_mean_size"``, as tables show it.

    See Also
    --------
    coverage_score, mean_width_score, set_coverage_score, mean_set_size

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from ensemblekit.conformal import ConformalRegressor
    >>> from ensemblekit.metrics import CoverageScorer
    >>> X, y = make_regression(300, 3, noise=5, random_state=0)
    >>> scores = cross_val_score(ConformalRegressor(LinearRegression(), random_state=0), X, y,
    ...                          scoring=CoverageScorer("coverage"))
    >>> bool(scores.mean() > 0.8)
    True
    """

    def __init__(self, what: str):
        self.what = what
        self.__name__ = "coverage" if what == "coverage" else "neg_mean_size"
        self.limits = (0.0, 1.0) if what == "coverage" else (-np.inf, 0.0)

    def __call__(self, estimator, X, y, sample_weight=None) -> float:
        if not hasattr(estimator, "predict_set") and not hasattr(estimator, "predict_interval"):
            raise TypeError(
                f"The {self.__name__!r} scorer scores intervals or sets, and "
                f"{type(estimator).__name__} predicts neither: wrap it in "
                "ensemblekit.conformal.ConformalRegressor or ConformalClassifier."
            )
        if hasattr(estimator, "predict_set"):
            sets = np.asarray(estimator.predict_set(X))
            sets = sets[..., 0] if sets.ndim == 3 else sets
            if self.what == "coverage":
                return set_coverage_score(y, sets, classes=estimator.classes_)
            return -mean_set_size(y, sets)
        intervals = np.asarray(estimator.predict_interval(X))
        intervals = intervals[..., 0] if intervals.ndim == 3 else intervals
        if self.what == "coverage":
            return coverage_score(y, intervals)
        return -mean_width_score(y, intervals)

    def __repr__(self) -> str:
        return f"CoverageScorer({self.what!r})"
