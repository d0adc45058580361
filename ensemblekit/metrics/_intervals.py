"""How well prediction intervals cover, and how wide they are."""

from __future__ import annotations

import numpy as np
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
