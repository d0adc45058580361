"""Calibration and probabilistic metrics in scikit-learn's metric style, and their scorers."""

from ._calibration import expected_calibration_error, gaussian_nll, multiclass_brier_score
from ._reliability import ReliabilityDisplay
from ._scorers import ProbabilityScorer, scorers

__all__ = [
    "ProbabilityScorer",
    "ReliabilityDisplay",
    "expected_calibration_error",
    "gaussian_nll",
    "multiclass_brier_score",
    "scorers",
]
