"""Imbalanced classes: focal loss, class-balanced weights, balanced batches, prior correction."""

from ._losses import FocalLoss, compute_class_weight
from ._resampling import BalancedBatchSampler, correct_prior_shift

__all__ = ["BalancedBatchSampler", "FocalLoss", "compute_class_weight", "correct_prior_shift"]
