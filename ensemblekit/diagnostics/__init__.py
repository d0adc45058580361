"""Checks to run before and while training a net."""

from ._gradient import gradient_check
from ._report import Check, DiagnosticReport

__all__ = ["Check", "DiagnosticReport", "gradient_check"]
