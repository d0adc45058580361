"""Validation tools: bias-variance decomposition, bootstrap estimates and intervals."""

from ._bias_variance import (
    BiasVarianceResult,
    bias_variance_curve,
    bias_variance_decomp,
    decompose_log_loss,
    decompose_squared,
    decompose_zero_one,
)
from ._bias_variance_display import BiasVarianceDisplay
from ._bootstrap import (
    BootstrapCI,
    BootstrapScoreResult,
    bootstrap_ci,
    bootstrap_score,
    efron_estimate,
    leave_one_out_bootstrap_error,
)

__all__ = [
    "BiasVarianceDisplay",
    "BiasVarianceResult",
    "BootstrapCI",
    "BootstrapScoreResult",
    "bias_variance_curve",
    "bias_variance_decomp",
    "bootstrap_ci",
    "bootstrap_score",
    "decompose_log_loss",
    "decompose_squared",
    "decompose_zero_one",
    "efron_estimate",
    "leave_one_out_bootstrap_error",
]
