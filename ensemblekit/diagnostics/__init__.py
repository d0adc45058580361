"""Checks to run before and while training a net: sanity checks, a gradient check, training
monitors (skorch callbacks), the learning-rate range test, and their displays."""

from ._displays import LossCurveDisplay, MonitorDisplay
from ._gradient import gradient_check
from ._lr_range import LRRangeDisplay, LRRangeTest, lr_range_test
from ._monitors import ActivationMonitor, GradientMonitor, UpdateRatioMonitor
from ._report import Check, DiagnosticReport
from ._sanity import SanityReport, sanity_check

__all__ = [
    "ActivationMonitor",
    "Check",
    "DiagnosticReport",
    "GradientMonitor",
    "LRRangeDisplay",
    "LRRangeTest",
    "LossCurveDisplay",
    "MonitorDisplay",
    "SanityReport",
    "UpdateRatioMonitor",
    "gradient_check",
    "lr_range_test",
    "sanity_check",
]
