"""Weight averaging: skorch callbacks that average a net's weights during training."""

from ._callbacks import EMA, SWA

__all__ = ["EMA", "SWA"]
