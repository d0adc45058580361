"""What the conformal regressor and classifier share: which rows each fold model or
bagging member left out."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted

from ..utils._fit_warnings import warn_user
from ..utils._random import set_random_states
from ._quantiles import check_levels


def fitted_bagging(estimator, kind: type, prefit: bool, X, y, seed: int):
    """The bagging ensemble of the jackknife+ after bootstrap: ``estimator`` as it is with
    ``prefit``, else a clone fitted on X, y (an unset ``random_state`` seeded); a TypeError
    unless it is a ``kind`` (BaggingRegressor or BaggingClassifier)."""
    if not isinstance(estimator, kind):
        raise TypeError(
            f"method='jackknife_plus_ab' takes a {kind.__name__} (its members and their "
            f"out-of-bag rows), got {type(estimator).__name__}."
        )
    if prefit:
        check_is_fitted(estimator)
        return estimator
    return set_random_states(clone(estimator), seed, only_unset=True).fit(X, y)


def out_of_bag(bagging, n_rows: int) -> np.ndarray:
    """(n_rows, n_members) booleans: True where a fitted bagging estimator's member did not
    draw the row. A ValueError when no row was left out, or when the rows are not the
    ones it was fitted on; a warning naming the rows every member drew."""
    out = np.ones((n_rows, len(bagging.estimators_)), dtype=bool)
    for k, rows in enumerate(bagging.estimators_samples_):
        if len(rows) and rows.max() >= n_rows:
            raise ValueError(
                f"X has {n_rows} rows, but the bagging estimator drew row {rows.max()}: "
                "with prefit=True, pass the rows it was fitted on."
            )
        out[rows, k] = False
    unseen = np.flatnonzero(~out.any(axis=1))
    if len(unseen) == n_rows:
        raise ValueError(
            "Every member drew every row, so no row has an out-of-bag prediction: "
            "use bootstrap=True (or max_samples below 1) and more estimators."
        )
    if len(unseen):
        warn_user(
            f"{len(unseen)} rows (the first: {unseen[:5].tolist()}) were drawn by every "
            "member and have no out-of-bag residual; they are left out of the "
            "calibration. More estimators leave fewer such rows.",
            UserWarning,
        )
    return out


def fold_of_each_row(splits: list, n: int) -> np.ndarray:
    """Which split tests each row; a ValueError unless each row is tested exactly once."""
    fold_of = np.full(n, -1)
    counts = np.zeros(n, dtype=int)
    for k, (_, test) in enumerate(splits):
        fold_of[test] = k
        counts[test] += 1
    if np.any(counts != 1):
        raise ValueError(
            f"cv must test each row exactly once (KFold, StratifiedKFold, GroupKFold); "
            f"{int((counts == 0).sum())} rows are never tested and "
            f"{int((counts > 1).sum())} more than once."
        )
    return fold_of


def at_levels(estimator, n_points: int, confidence_level, chunk, predict) -> np.ndarray:
    """``predict(rows, levels)`` for every point, ``chunk`` points at a time (``rows``: a
    slice; None: all at once), at the fitted levels or the ``confidence_level`` given; the
    levels axis dropped when the level is a single number. The "plus" methods weigh every
    calibration row at each point, hence the chunks."""
    levels = estimator.levels_ if confidence_level is None else check_levels(confidence_level)
    step = max(chunk or n_points, 1)
    out = np.concatenate(
        [predict(slice(i, i + step), levels) for i in range(0, max(n_points, 1), step)]
    )
    asked = estimator.confidence_level if confidence_level is None else confidence_level
    return out[..., 0] if np.ndim(asked) == 0 else out
