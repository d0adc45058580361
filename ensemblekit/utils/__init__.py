"""Shared machinery: the member engine, seeding and torch helpers."""

from ._engine import MemberPlan, fit_members
from ._random import MAX_SEED, draw_seeds, set_random_states

__all__ = ["MAX_SEED", "MemberPlan", "draw_seeds", "fit_members", "set_random_states"]
