"""Validation tools: bootstrap estimates and intervals."""

from ._bootstrap import (
    BootstrapCI,
    BootstrapScoreResult,
    bootstrap_ci,
    bootstrap_score,
    efron_estimate,
    leave_one_out_bootstrap_error,
)

__all__ = [
    "BootstrapCI",
    "BootstrapScoreResult",
    "bootstrap_ci",
    "bootstrap_score",
    "efron_estimate",
    "leave_one_out_bootstrap_error",
]
