"""Calibration, probabilistic and interval metrics in scikit-learn's style, and scorers."""

from ._calibration import expected_calibration_error, gaussian_nll, multiclass_brier_score
from ._coverage_display import CoverageDisplay
from ._intervals import (
    CoverageScorer,
    conditional_coverage,
    coverage_score,
    mean_set_size,
    mean_width_score,
    set_coverage_score,
)
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
    "CoverageDisplay",
    "CoverageScorer",
    "ProbabilityScorer",
    "ReliabilityDisplay",
    "check_scoring",
    "conditional_coverage",
    "coverage_score",
    "expected_calibration_error",
    "gaussian_nll",
    "mean_set_size",
    "mean_width_score",
    "multiclass_brier_score",
    "resolve_scoring",
    "score_limits",
    "scorer_names",
    "scorers",
    "set_coverage_score",
]
