"""A Gaussian mean-variance head's loss: deep ensembles as Lakshminarayanan et al. train them."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class GaussianNLLLoss(nn.Module):
    """Gaussian negative log likelihood of a net that predicts a mean and a spread per target.

    The module's output has two values per target: the first half are the means ``m``, the
    second half raw spreads that ``softplus`` makes positive, ``s = softplus(raw) +
    min_std`` (Lakshminarayanan et al. 2017). The loss of a row is ``0.5 log(2 pi s^2) +
    (y - m)^2 / (2 s^2)``, averaged over its targets: the same number as
    :func:`ensemblekit.metrics.gaussian_nll`.

    Use it as ``NeuralNetRegressor(criterion=GaussianNLLLoss)``: the net then gives its
    module twice as many outputs as there are targets, ``predict`` returns the means and
    ``predict(X, return_std=True)`` the means and standard deviations. A
    ``DeepEnsembleRegressor`` of such nets returns the mixture's standard deviation, which
    counts the noise each member predicts as well as the members' disagreement.

    Parameters
    ----------
    min_std : float, default=1e-3
        Floor of the predicted standard deviation, in units of y: it keeps the likelihood
        finite where a member would predict no spread at all.
    reduction : {"none", "mean", "sum"}, default="mean"
        The nets set "none" and weigh rows themselves.

    See Also
    --------
    NeuralNetRegressor : the net to train with it (``predict(X, return_std=True)``).
    ensemblekit.metrics.gaussian_nll : the same likelihood as a metric.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.nets import GaussianNLLLoss
    >>> loss = GaussianNLLLoss(reduction="none")
    >>> output = torch.tensor([[0.0, 100.0]])  # mean 0; softplus(100) = 100
    >>> round(float(loss(output, torch.tensor([[0.0]]))[0]), 4)  # 0.5 log(2 pi 100.001^2)
    5.5241
    """

    outputs_per_target = 2

    def __init__(self, min_std: float = 1e-3, reduction: str = "mean"):
        super().__init__()
        if not min_std > 0:
            raise ValueError(f"min_std must be positive, got {min_std!r}.")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}.")
        self.min_std, self.reduction = float(min_std), reduction

    def split(self, output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The means and the standard deviations in a module's output.

        Parameters
        ----------
        output : torch.Tensor of shape (..., 2 * n_targets)
            Means first, then the raw scales.

        Returns
        -------
        mean, std : torch.Tensor of shape (..., n_targets)
            ``std`` is ``softplus(raw) + min_std``.
        """
        n_targets = output.shape[-1] // 2
        return output[..., :n_targets], F.softplus(output[..., n_targets:]) + self.min_std

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean, std = self.split(output)
        target = target.reshape(mean.shape)
        loss = 0.5 * math.log(2 * math.pi) + torch.log(std) + (target - mean) ** 2 / (2 * std**2)
        loss = loss.mean(dim=-1)
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()
