"""Calibration and probabilistic metrics, in scikit-learn's metric style.

Array in, float out, ``sample_weight`` where it makes sense. The formulas are Guo et al.'s
(2017) expected calibration error (top-label) and its classwise form (Kull et al. 2019), the
multi-class Brier score (Brier 1950) and the Gaussian negative log likelihood.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

_STRATEGIES = ("uniform", "quantile")
_METHODS = ("top-label", "classwise")


def _check_proba(y_true, y_proba, labels):
    """Labels as column indices and probabilities as (n, K) floats that sum to 1 per row.

    A 1-D ``y_proba`` is the positive class's probability of a binary problem (the
    column scikit-learn's scorers pass); its columns are then (1 - p, p).
    """
    y_true = column_or_1d(y_true)
    y_proba = np.asarray(y_proba, dtype=float)
    if y_proba.ndim == 1:
        y_proba = np.column_stack([1 - y_proba, y_proba])
    if y_proba.ndim != 2:
        raise ValueError(f"y_proba must be 1-D or 2-D, got shape {y_proba.shape}.")
    check_consistent_length(y_true, y_proba)
    if len(y_true) == 0:
        raise ValueError("y_true is empty; these metrics need at least one row.")
    if not np.all(np.isfinite(y_proba)) or y_proba.min() < 0 or y_proba.max() > 1:
        raise ValueError("y_proba must hold probabilities in [0, 1], without NaN or inf.")
    if not np.allclose(y_proba.sum(axis=1), 1.0, atol=1e-5):
        raise ValueError(
            "Each row of y_proba must sum to 1 (predict_proba's output); got sums from "
            f"{y_proba.sum(axis=1).min():.4g} to {y_proba.sum(axis=1).max():.4g}."
        )
    classes = np.unique(y_true) if labels is None else np.asarray(labels)
    n_columns = y_proba.shape[1]
    if labels is None and classes.dtype.kind in "iu" and classes.min() >= 0:
        if classes.max() < n_columns:  # integer labels 0..K-1 are the columns' indices
            classes = np.arange(n_columns)
    if len(classes) != n_columns:
        raise ValueError(
            f"y_proba has {y_proba.shape[1]} columns but y_true shows {len(classes)} classes "
            f"({classes.tolist()[:10]}); pass labels= with every class in the columns' order "
            "(the estimator's classes_)."
        )
    index = np.searchsorted(classes, y_true) if labels is None else _index_of(classes, y_true)
    return index, y_proba


def _index_of(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    lookup = {label: i for i, label in enumerate(classes.tolist())}
    unknown = sorted({label for label in y.tolist() if label not in lookup}, key=str)
    if unknown:
        raise ValueError(f"y_true has labels {unknown[:10]} that are not in labels.")
    return np.array([lookup[label] for label in y.tolist()], dtype=int)


def _weights(sample_weight, n: int) -> np.ndarray:
    if sample_weight is None:
        return np.ones(n)
    weight = column_or_1d(sample_weight).astype(float)
    check_consistent_length(weight, np.empty(n))
    if not np.isfinite(weight).all():
        raise ValueError("sample_weight holds NaN or infinity: give every row a finite weight.")
    if weight.min() < 0 or weight.sum() <= 0:
        raise ValueError("sample_weight must be non-negative with a positive sum.")
    return weight


def reliability_bins(score, hit, weight, n_bins: int, strategy: str):
    """Per non-empty bin of ``score``: total weight, weighted hits and weighted scores."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:
        edges = np.unique(np.quantile(score, np.linspace(0.0, 1.0, n_bins + 1)))
    # Bins (e_{b-1}, e_b], the first one closed on the left: a confidence of exactly 1
    # falls in the last bin and one of exactly 0 in the first.
    bins = np.clip(np.searchsorted(edges, score, side="left") - 1, 0, len(edges) - 2)
    total = np.bincount(bins, weights=weight, minlength=len(edges) - 1)
    hits = np.bincount(bins, weights=weight * hit, minlength=len(edges) - 1)
    scores = np.bincount(bins, weights=weight * score, minlength=len(edges) - 1)
    full = total > 0
    return total[full], hits[full], scores[full]


def _binned_gap(score, hit, weight, n_bins: int, strategy: str) -> float:
    """``sum_b (w_b / w) |mean hit_b - mean score_b|`` over the non-empty bins of ``score``."""
    _, hits, scores = reliability_bins(score, hit, weight, n_bins, strategy)
    return float(np.abs(hits - scores).sum() / weight.sum())


def top_label(y_true, y_proba, labels=None):
    """Each row's confidence ``max_k p_k`` and whether that class is right."""
    index, proba = _check_proba(y_true, y_proba, labels)
    predicted = proba.argmax(axis=1)
    return proba[np.arange(len(index)), predicted], predicted == index


def expected_calibration_error(
    y_true, y_proba, *, n_bins: int = 15, strategy: str = "uniform",
    method: str = "top-label", sample_weight=None, labels=None,
) -> float:  # fmt: skip
    """Expected calibration error: how far predicted confidence is from the hit rate.

    Top-label (Guo et al. 2017): rows are binned by their confidence ``max_k p_k``, and
    ``ECE = sum_b (n_b / n) |acc_b - conf_b|`` over the non-empty bins, with ``acc_b`` the
    share of rows in bin b whose most probable class is right and ``conf_b`` their mean
    confidence. Classwise (Kull et al. 2019): the same for each class's probability against
    whether the row is of that class, averaged over the classes. 0 is perfectly
    calibrated; lower is better. ECE depends on the binning: report it with the number.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in the order of ``labels``; when None, integer
        labels 0..K-1 index the K columns, and other labels are the sorted labels of
        ``y_true``. A 1-D array is a binary problem's positive-class column.
    n_bins : int, default=15
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width bins on [0, 1], or equal-mass bins (edges at quantiles of the scores).
    method : {"top-label", "classwise"}, default="top-label"
    sample_weight : array-like of shape (n_samples,) or None, default=None
    labels : array-like of shape (n_classes,) or None, default=None
        The classes of the columns; pass the estimator's ``classes_`` when ``y_true`` may
        lack some (a small test fold).

    Returns
    -------
    ece : float
        In [0, 1].

    See Also
    --------
    multiclass_brier_score : a proper score that rewards calibration and sharpness.
    sklearn.calibration.calibration_curve : the binned points behind a reliability diagram.

    Examples
    --------
    >>> from ensemblekit.metrics import expected_calibration_error
    >>> y = [0, 1, 1, 0]  # confidences 0.9, 0.85, 0.65 right; 0.7 wrong
    >>> proba = [[0.9, 0.1], [0.15, 0.85], [0.35, 0.65], [0.3, 0.7]]
    >>> round(expected_calibration_error(y, proba, n_bins=2), 4)  # all in (0.5, 1]: |3 - 3.1| / 4
    0.025
    >>> round(expected_calibration_error(y, proba, n_bins=5), 4)  # (|2 - 1.75| + |1 - 1.35|) / 4
    0.15
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be an int >= 1, got {n_bins!r}.")
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}.")
    if method not in _METHODS:
        raise ValueError(f"method must be 'top-label' or 'classwise', got {method!r}.")
    if method == "top-label":
        confidence, right = top_label(y_true, y_proba, labels)
        weight = _weights(sample_weight, len(confidence))
        return _binned_gap(confidence, right, weight, int(n_bins), strategy)
    index, proba = _check_proba(y_true, y_proba, labels)
    weight = _weights(sample_weight, len(index))
    gaps = [
        _binned_gap(proba[:, k], index == k, weight, int(n_bins), strategy)
        for k in range(proba.shape[1])
    ]
    return float(np.mean(gaps))


def multiclass_brier_score(y_true, y_proba, *, sample_weight=None, labels=None) -> float:
    """Brier's (1950) score for K classes: ``mean_i sum_k (p_ik - 1[y_i = k])^2``.

    In [0, 2]; lower is better. It equals scikit-learn's
    ``brier_score_loss(y_true, y_proba, scale_by_half=False)``; for two classes it is twice
    the binary Brier score ``mean (p_i - y_i)^2``, since both columns count.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        As in :func:`expected_calibration_error`.
    sample_weight : array-like of shape (n_samples,) or None, default=None
    labels : array-like of shape (n_classes,) or None, default=None

    Returns
    -------
    score : float

    See Also
    --------
    expected_calibration_error : calibration alone.

    Examples
    --------
    >>> from ensemblekit.metrics import multiclass_brier_score
    >>> multiclass_brier_score([0, 2], [[1.0, 0.0, 0.0], [0.5, 0.0, 0.5]])
    0.25
    """
    index, proba = _check_proba(y_true, y_proba, labels)
    onehot = np.zeros_like(proba)
    onehot[np.arange(len(index)), index] = 1.0
    per_row = ((proba - onehot) ** 2).sum(axis=1)
    return float(np.average(per_row, weights=_weights(sample_weight, len(index))))


def gaussian_nll(y_true, mean, std, *, sample_weight=None) -> float:
    """Negative log likelihood of ``y_true`` under Gaussians ``N(mean, std^2)``, per row.

    ``mean_i [0.5 log(2 pi s_i^2) + (y_i - m_i)^2 / (2 s_i^2)]``: the score of a regressor
    that predicts a distribution (a deep ensemble's mixture, summarised by its mean and
    standard deviation). Lower is better; it rewards a standard deviation that matches the
    errors, where the squared error ignores it.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
    mean : array-like of the same shape
    std : array-like of the same shape, or a positive float
        Standard deviations, all positive.
    sample_weight : array-like of shape (n_samples,) or None, default=None

    Returns
    -------
    nll : float

    See Also
    --------
    sklearn.metrics.mean_squared_error : the error of the mean alone.

    Examples
    --------
    >>> from ensemblekit.metrics import gaussian_nll
    >>> round(gaussian_nll([0.0, 2.0], [0.0, 0.0], [1.0, 2.0]), 4)
    1.5155
    """
    y = np.asarray(y_true, dtype=float)
    mean = np.asarray(mean, dtype=float)
    if y.shape != mean.shape:
        raise ValueError(f"y_true has shape {y.shape} but mean has shape {mean.shape}.")
    try:
        std = np.broadcast_to(np.asarray(std, dtype=float), mean.shape)
    except ValueError:
        raise ValueError(
            f"std must be a float or have mean's shape {mean.shape}, got shape {np.shape(std)}."
        ) from None
    if y.size == 0:
        raise ValueError("y_true is empty; gaussian_nll needs at least one row.")
    for name, values in (("y_true", y), ("mean", mean)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} holds NaN or infinity: the likelihood is not defined.")
    if not (np.all(np.isfinite(std)) and std.min() > 0):
        raise ValueError(
            "std must be positive and finite; a member that predicts a zero standard "
            "deviation gives an infinite likelihood (floor it, e.g. np.maximum(std, 1e-6))."
        )
    # In log space: (y - m)^2 / (2 s^2) as exp(2 log|y - m| - 2 log s - log 2), so that a
    # tiny s gives +inf (the exact value overflows) rather than 0 * inf = NaN.
    with np.errstate(divide="ignore", over="ignore"):
        log_std = np.log(std)
        squared = np.exp(2 * (np.log(np.abs(y - mean)) - log_std) - np.log(2))
    per_value = 0.5 * np.log(2 * np.pi) + log_std + squared
    per_row = per_value.reshape(len(y), -1).mean(axis=1)
    return float(np.average(per_row, weights=_weights(sample_weight, len(y))))
