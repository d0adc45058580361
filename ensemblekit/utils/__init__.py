"""Shared helpers: seeding and torch utilities."""

from ._random import MAX_SEED, draw_seeds, set_random_states

__all__ = ["MAX_SEED", "draw_seeds", "set_random_states"]
