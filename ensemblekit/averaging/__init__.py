"""Weight averaging: callbacks that average a net's weights, and model soups."""

from ._callbacks import EMA, SWA
from ._soup import model_soup

__all__ = ["EMA", "SWA", "model_soup"]
