"""Checks to run before and while training a net."""

from ._gradient import gradient_check
from ._report import Check, DiagnosticReport
from ._sanity import sanity_check

__all__ = ["Check", "DiagnosticReport", "gradient_check", "sanity_check"]
