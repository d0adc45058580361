"""Weight averaging and snapshots: callbacks that average or collect a net's weights, soups."""

from ._callbacks import EMA, SWA
from ._snapshots import SnapshotCollector
from ._soup import model_soup

__all__ = ["EMA", "SWA", "SnapshotCollector", "model_soup"]
