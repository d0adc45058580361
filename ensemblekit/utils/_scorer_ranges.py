"""The range a scorer's values lie in, so that an interval is clipped to it (an accuracy
interval never reaches past 1)."""

from __future__ import annotations

import numpy as np
from sklearn.base import is_classifier

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
    from ..metrics._scorers import resolve_scoring

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
