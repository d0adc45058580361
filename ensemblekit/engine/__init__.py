"""The member engine: every ensemble and validation tool fits its members here."""

from ._candidates import CandidateFits, fit_candidates, shared_params
from ._cross_fit import cross_fit
from ._members import MemberPlan, fit_members
from ._threads import net_threads

__all__ = [
    "CandidateFits",
    "MemberPlan",
    "cross_fit",
    "fit_candidates",
    "fit_members",
    "net_threads",
    "shared_params",
]
