"""The pinball (quantile) loss: a net that predicts several quantiles of each target."""

from __future__ import annotations

import torch
from torch import nn

#: The quantiles a PinballLoss learns when none are given: a 90% band and its median.
DEFAULT_QUANTILES = (0.05, 0.5, 0.95)


def check_quantiles(quantiles) -> tuple[float, ...]:
    """``quantiles`` as a sorted tuple of distinct floats in (0, 1), or a ValueError."""
    try:
        values = tuple(sorted(float(q) for q in quantiles))
    except (TypeError, ValueError):
        raise ValueError(
            f"quantiles must be a list of numbers in (0, 1), got {quantiles!r}."
        ) from None
    if not values or not all(0 < q < 1 for q in values) or len(set(values)) != len(values):
        raise ValueError(
            f"quantiles must be distinct numbers in (0, 1), such as (0.05, 0.5, 0.95), got "
            f"{quantiles!r}."
        )
    return values


class PinballLoss(nn.Module):
    """The pinball loss of a net that predicts several quantiles of each target.

    For a quantile ``tau`` and a residual ``r = y - q``, the loss is ``tau * r`` when the
    target is above the predicted quantile and ``(tau - 1) * r`` below it; its minimiser
    is the ``tau``-quantile of y given x (Koenker & Bassett 1978). The loss of a row is
    the mean over the quantiles and targets.

    Use it as ``NeuralNetRegressor(criterion=PinballLoss, criterion__quantiles=(0.05, 0.5,
    0.95))``: the net gives its module one output per quantile and target,
    ``predict_quantiles(X)`` returns them all and ``predict(X)`` the middle one (the
    median, for the default quantiles). One net learns every quantile in one fit; it is
    what conformalized quantile regression (``ConformalRegressor(method="cqr")``) trains.

    Parameters
    ----------
    quantiles : sequence of float, default=(0.05, 0.5, 0.95)
        Distinct, in (0, 1); sorted.
    reduction : {"none", "mean", "sum"}, default="mean"
        The nets set "none" and weigh rows themselves.

    Attributes
    ----------
    quantiles : tuple of float
        Sorted.
    outputs_per_target : int
        One module output per quantile.

    See Also
    --------
    NeuralNetRegressor : the net to train with it (``predict_quantiles``).
    ensemblekit.conformal.ConformalRegressor : intervals with a guarantee from its quantiles.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.nets import PinballLoss
    >>> loss = PinballLoss(quantiles=(0.1, 0.9), reduction="none")
    >>> output = torch.tensor([[0.0, 0.0]])  # both quantiles predicted at 0
    >>> float(loss(output, torch.tensor([[1.0]]))[0])  # (0.1 * 1 + 0.9 * 1) / 2
    0.5
    """

    def __init__(self, quantiles=DEFAULT_QUANTILES, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}.")
        self.quantiles, self.reduction = check_quantiles(quantiles), reduction
        self.register_buffer("_taus", torch.tensor(self.quantiles))
        self.outputs_per_target = len(self.quantiles)  # an instance knows its count

    @staticmethod
    def outputs_per_target(quantiles=DEFAULT_QUANTILES, **_) -> int:
        """Module outputs per target: one per quantile (asked of the class, which a net's
        ``criterion`` usually is, with the net's ``criterion__`` parameters).

        Parameters
        ----------
        quantiles : sequence of float, default=(0.05, 0.5, 0.95)
        **_
            The criterion's other parameters, unused.

        Returns
        -------
        n : int
        """
        return len(check_quantiles(quantiles))

    def split(self, output: torch.Tensor) -> torch.Tensor:
        """The quantiles in a module's output, on a last axis.

        Parameters
        ----------
        output : torch.Tensor of shape (..., n_quantiles * n_targets)
            The first quantile of every target, then the second, and so on.

        Returns
        -------
        quantiles : torch.Tensor of shape (..., n_targets, n_quantiles)
        """
        n = len(self.quantiles)
        return output.reshape(*output.shape[:-1], n, output.shape[-1] // n).transpose(-1, -2)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        predicted = self.split(output)  # (n, n_targets, n_quantiles)
        residual = target.reshape(predicted.shape[:-1]).unsqueeze(-1) - predicted
        taus = self._taus.to(residual.dtype)
        loss = torch.maximum(taus * residual, (taus - 1) * residual).mean(dim=(-1, -2))
        if self.reduction == "none":
            return loss
        return loss.mean() if self.reduction == "mean" else loss.sum()
