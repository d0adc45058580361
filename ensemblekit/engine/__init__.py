"""The member engine: every ensemble and validation tool fits its members here."""

from ._cross_fit import cross_fit
from ._members import MemberPlan, fit_members
from ._threads import net_threads

__all__ = ["MemberPlan", "cross_fit", "fit_members", "net_threads"]
