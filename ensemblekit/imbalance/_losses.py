"""Focal loss and class-balanced weights for imbalanced classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight as _sklearn_class_weight
from torch import nn

from ._resampling import check_labels

_REDUCTIONS = ("none", "mean", "sum")


class FocalLoss(nn.Module):
    """Focal loss (Lin et al. 2017): cross-entropy that down-weights easy examples.

    ``FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)``, where ``p_t`` is the probability the model
    gives the true class. ``gamma = 0`` is (alpha-weighted) cross-entropy exactly.

    Two forms, chosen by the shape of the input:

    - **multi-class**: logits of shape (N, C) and integer targets of shape (N,), through a
      numerically stable log-softmax. ``alpha`` is None, a float (a constant factor) or one
      weight per class (in the order of the net's ``classes_``).
    - **binary**: logits of shape (N,) and 0/1 float targets, through
      ``binary_cross_entropy_with_logits``; a float ``alpha`` weights the positive class and
      ``1 - alpha`` the negative, as ``torchvision.ops.sigmoid_focal_loss`` does.

    Use it in a net as ``NeuralNetClassifier(criterion=FocalLoss, criterion__gamma=2.0)``;
    ``criterion__gamma`` is searchable, and the net's ``sample_weight`` and ``class_weight``
    multiply each row's loss as with any criterion.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, >= 0.
    alpha : None, float or sequence of float, default=None
        Class balance factor (see above).
    reduction : {"mean", "sum", "none"}, default="mean"

    Attributes
    ----------
    alpha : None, float or "per-class"
        As given, or ``"per-class"`` when ``alpha`` was a sequence.
    alpha_weights : torch.Tensor of shape (n_classes,)
        The per-class weights, a buffer that moves with the module (only when ``alpha``
        was a sequence).

    See Also
    --------
    compute_class_weight : class weights for a weighted cross-entropy.
    BalancedBatchSampler : balanced batches instead of a reweighted loss.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.imbalance import FocalLoss
    >>> logits, target = torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 1])
    >>> torch.allclose(FocalLoss(gamma=0.0)(logits, target),
    ...                torch.nn.functional.cross_entropy(logits, target))
    True
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | Sequence[float] | None = None,
        reduction: str = "mean",
    ):
        super().__init__()
        if not 0 <= float(gamma) < np.inf:
            raise ValueError(f"gamma must be a finite number >= 0, got {gamma!r}.")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}.")
        self.gamma = float(gamma)
        self.reduction = reduction
        if alpha is None or np.isscalar(alpha):
            self.alpha = None if alpha is None else float(alpha)
            if self.alpha is not None and not 0 <= self.alpha < np.inf:
                raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}.")
        else:
            weights = torch.as_tensor(np.asarray(alpha, dtype=np.float32))
            if weights.ndim != 1 or not bool(((weights >= 0) & weights.isfinite()).all()):
                raise ValueError(
                    f"alpha must be a float or finite non-negative weights, got {alpha!r}."
                )
            self.register_buffer("alpha_weights", weights)
            self.alpha = "per-class"

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if input.ndim == 1:
            loss = self._binary(input, target.to(input.dtype))
        elif input.ndim == 2:
            loss = self._multiclass(input, target.long())
        else:
            raise ValueError(
                f"FocalLoss takes logits of shape (N,) or (N, C), got {tuple(input.shape)}."
            )
        if self.reduction == "mean":
            return loss.mean()
        return loss.sum() if self.reduction == "sum" else loss

    def _multiclass(self, logits, target):
        log_pt = F.log_softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
        loss = -((1 - log_pt.exp()) ** self.gamma) * log_pt
        if self.alpha == "per-class":
            if len(self.alpha_weights) != logits.shape[1]:
                raise ValueError(
                    f"alpha has {len(self.alpha_weights)} weights but the logits have "
                    f"{logits.shape[1]} classes; give one weight per class."
                )
            loss = loss * self.alpha_weights[target]
        elif self.alpha is not None:
            loss = loss * self.alpha
        return loss

    def _binary(self, logits, target):
        if self.alpha == "per-class":
            raise ValueError("The binary form takes a float alpha (the positive class's weight).")
        p = torch.sigmoid(logits)
        ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        p_t = p * target + (1 - p) * (1 - target)
        loss = ce * (1 - p_t) ** self.gamma
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        return loss

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={self.alpha}, reduction={self.reduction!r}"


def compute_class_weight(y, *, method: str = "balanced", beta: float = 0.999) -> np.ndarray:
    """One weight per class (in sorted class order) for an imbalanced ``y``.

    ``"balanced"``: ``n_samples / (n_classes * n_c)``, as scikit-learn. ``"effective"``
    (Cui et al. 2019): weights proportional to ``1 / E_c`` with the effective number
    ``E_c = (1 - beta^n_c) / (1 - beta)``, normalised to sum to the number of classes;
    ``beta -> 1`` tends to ``"balanced"``'s proportions and ``beta = 0`` gives equal weights.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
    method : {"balanced", "effective"}, default="balanced"
    beta : float in [0, 1), default=0.999
        Used by "effective"; the paper uses 0.9, 0.99, 0.999 or 0.9999.

    Returns
    -------
    weights : ndarray of shape (n_classes,)

    See Also
    --------
    FocalLoss : a loss that down-weights easy examples.
    BalancedBatchSampler : balanced batches instead of weights.
    sklearn.utils.class_weight.compute_class_weight : the ``balanced`` rule it extends.

    Examples
    --------
    >>> from ensemblekit.imbalance import compute_class_weight
    >>> compute_class_weight([0] * 90 + [1] * 10, method="balanced").round(3)
    array([0.556, 5.   ])
    >>> compute_class_weight([0] * 90 + [1] * 10, method="effective", beta=0.9).round(3)
    array([0.789, 1.211])
    """
    y = check_labels(y)
    classes, counts = np.unique(y, return_counts=True)
    if method == "balanced":
        return _sklearn_class_weight("balanced", classes=classes, y=y)
    if method != "effective":
        raise ValueError(f"method must be 'balanced' or 'effective', got {method!r}.")
    if not 0.0 <= float(beta) < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta!r}.")
    effective = (1.0 - np.power(float(beta), counts)) / (1.0 - float(beta))
    weights = 1.0 / effective
    return weights * len(classes) / weights.sum()
