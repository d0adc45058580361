"""One rule for placing a model's probabilities among classes it may not all have seen."""

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
