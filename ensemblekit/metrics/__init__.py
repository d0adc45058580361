"""Calibration and probabilistic metrics in scikit-learn's metric style, and their scorers."""

from ._calibration import expected_calibration_error, gaussian_nll, multiclass_brier_score
from ._reliability import ReliabilityDisplay
from ._scorers import (
    ProbabilityScorer,
    check_scoring,
    resolve_scoring,
    score_limits,
    scorer_names,
    scorers,
)

__all__ = [
    "ProbabilityScorer",
    "ReliabilityDisplay",
    "check_scoring",
    "expected_calibration_error",
    "gaussian_nll",
    "multiclass_brier_score",
    "resolve_scoring",
    "score_limits",
    "scorer_names",
    "scorers",
]
