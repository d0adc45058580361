"""The member engine: every ensemble and validation tool fits its members here."""

from ._members import MemberPlan, fit_members

__all__ = ["MemberPlan", "fit_members"]
