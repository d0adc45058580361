"""One rule for placing a model's probabilities among classes it may not all have seen, and
one for keeping them off 0 and 1 before a logarithm."""

from __future__ import annotations

import numpy as np


def align_proba(proba: np.ndarray, seen, classes) -> np.ndarray:
    """``proba``, whose columns are the classes ``seen`` (sorted, as a fitted classifier's
    ``classes_``), placed in the columns of ``classes`` (zeros for the classes it did not
    see: a bootstrap draw or a fold may miss one). Returned as given when it has a column
    for every class (a member built from a checkpoint may name them otherwise)."""
    seen, classes = np.asarray(seen), np.asarray(classes)
    if proba.shape[1] == len(classes):
        return proba
    aligned = np.zeros((len(proba), len(classes)))
    aligned[:, np.searchsorted(classes, seen)] = proba
    return aligned


def clip_proba(proba) -> np.ndarray:
    """``proba`` clipped to ``[eps, 1 - eps]``, ``eps`` its dtype's machine epsilon
    (float64's for other input), as scikit-learn's ``log_loss`` clips: a probability of 0
    for the true class costs ``-log(eps)``, about 36.04 nats in float64, in every loss
    here as in scikit-learn's."""
    proba = np.asarray(proba)
    if not np.issubdtype(proba.dtype, np.floating):
        proba = proba.astype(np.float64)
    eps = np.finfo(proba.dtype).eps
    return np.clip(proba, eps, 1 - eps)
