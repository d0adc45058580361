"""Is the backward pass right? The analytic gradient against centred differences."""

from __future__ import annotations

import copy

import numpy as np
import torch

from ..utils._optional import axes_for
from ..utils._random import check_random_state
from ._report import Check, DiagnosticReport

# Relative error thresholds (CS231n's notes on gradient checks): above 1e-2 the gradient
# is wrong; between 1e-4 and 1e-2 it is suspicious; below 1e-7 is what smooth functions
# give in float64. Kinks (ReLU at 0) can explain an occasional miss.
_WRONG, _SUSPICIOUS, _GOOD = 1e-2, 1e-4, 1e-7


def _relative_error(analytic: float, numeric: float) -> float:
    scale = max(abs(analytic), abs(numeric))
    return 0.0 if scale == 0 else abs(analytic - numeric) / scale


def _status(error: float) -> tuple[str, str]:
    if error > _WRONG:
        return "fail", "the analytic gradient is wrong here: check this layer's backward"
    if error > _SUSPICIOUS:
        return "warn", (
            "suspicious: a kink (ReLU, max) near the checked point can explain it; with "
            "smooth activations it is a bug"
        )
    return "pass", "analytic and numerical gradients agree"


def gradient_check(
    module: torch.nn.Module, criterion, X, y, *, n_entries: int = 10, eps: float = 1e-6,
    random_state=None,
) -> DiagnosticReport:  # fmt: skip
    """Compare the analytic gradient with centred differences, per parameter tensor.

    In float64, on a copy of ``module`` in eval mode (dropout off, so the loss is a
    function of the weights alone): for ``n_entries`` entries drawn from each parameter
    tensor, the numerical derivative ``(L(w + eps) - L(w - eps)) / (2 eps)`` is set
    against autograd's, and the tensor's worst relative error ``|a - n| / max(|a|, |n|)``
    is its check's value. Above 1e-2 the check fails (the gradient is wrong), above 1e-4
    it warns (suspicious; kinks such as ReLU's at 0 can explain an occasional miss), and
    below 1e-7 is what smooth functions give. The caller's module is never changed.

    Parameters
    ----------
    module : torch.nn.Module
    criterion : torch.nn.Module or callable
        ``criterion(output, y)``; a class is instantiated. A per-row loss is averaged.
    X : array-like of shape (n_samples, ...)
        A few rows are enough (a handful to a few dozen).
    y : array-like of shape (n_samples, ...)
        Integer labels stay integers (for ``CrossEntropyLoss``); other targets become
        float64.
    n_entries : int, default=10
        Entries checked per parameter tensor (all of a smaller tensor).
    eps : float, default=1e-6
    random_state : None, int or RandomState, default=None
        Which entries are checked.

    Returns
    -------
    report : DiagnosticReport
        One check per parameter tensor, by its name (``report["layers.0.weight"]``), and
        ``report.plot()``.

    See Also
    --------
    sanity_check : the checks to run on a whole net before training it.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.diagnostics import gradient_check
    >>> from ensemblekit.nets import MLP
    >>> module = MLP(n_features=4, n_outputs=3, hidden_units=(5,), activation="tanh",
    ...              random_state=0)
    >>> X, y = torch.randn(8, 4), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    >>> report = gradient_check(module, torch.nn.CrossEntropyLoss(), X, y, random_state=0)
    >>> report.ok, report["layers.0.weight"].status
    (True, 'pass')
    """
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
    if isinstance(n_entries, bool) or not isinstance(n_entries, int) or n_entries < 1:
        raise ValueError(f"n_entries must be an int >= 1, got {n_entries!r}.")
    if not 0 < eps < 1e-2:
        raise ValueError(f"eps must be in (0, 0.01), got {eps!r}.")
    rng = check_random_state(random_state)
    X, y = _checked_data(X, y)
    model = copy.deepcopy(module).double().eval()
    loss_fn = criterion() if isinstance(criterion, type) else criterion

    def loss() -> torch.Tensor:
        value = loss_fn(model(X), y)
        return value.mean() if value.dim() else value

    model.zero_grad()
    _first_loss(model, loss_fn, X, y).backward()
    checks = []
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.grad is None:
                continue
            flat, grad = parameter.view(-1), parameter.grad.view(-1)
            size = flat.numel()
            entries = rng.choice(size, min(n_entries, size), replace=False)
            worst, broken = 0.0, None
            for index in entries:
                saved = flat[index].item()
                flat[index] = saved + eps
                plus = loss().item()
                flat[index] = saved - eps
                minus = loss().item()
                flat[index] = saved
                numeric, analytic = (plus - minus) / (2 * eps), grad[index].item()
                if not (np.isfinite(numeric) and np.isfinite(analytic)):
                    broken = broken or (analytic, numeric)
                    continue
                worst = max(worst, _relative_error(analytic, numeric))
            status, advice = _status(worst)
            if broken is not None:  # NaN compares false with everything: say so outright
                worst, status = float("nan"), "fail"
                advice = (
                    f"the gradient is not finite (analytic {broken[0]:g}, numerical "
                    f"{broken[1]:g}): look for a log or a division by zero, or an overflow, "
                    "in this layer's forward or backward"
                )
            checks.append(
                Check(name, worst, f"below {_SUSPICIOUS:g} (1e-7 for smooth functions)",
                      status, advice)
            )  # fmt: skip
    if not checks:
        raise ValueError("The loss does not depend on any parameter of module: nothing to check.")
    return _GradientReport("gradient check (worst relative error per parameter tensor)", checks)


def _checked_data(X, y) -> tuple[torch.Tensor, torch.Tensor]:
    """X and y as float64 (integer labels stay integers), refused before any work when
    empty, of other lengths, or not finite: a derivative of NaN judges nothing."""
    try:
        X = torch.as_tensor(np.asarray(X, dtype=np.float64))
        y = np.asarray(y)
        y = torch.as_tensor(y if y.dtype.kind in "iub" else y.astype(np.float64))
    except (TypeError, ValueError) as error:
        raise ValueError(f"X and y must be numeric arrays: {error}") from None
    if X.dim() == 0 or len(X) == 0:
        raise ValueError(f"X must hold at least one row, got shape {tuple(X.shape)}.")
    if y.dim() == 0 or len(y) != len(X):
        raise ValueError(
            f"y must have one entry per row of X ({len(X)}), got shape {tuple(y.shape)}."
        )
    for name, values in (("X", X), ("y", y)):
        if torch.is_floating_point(values) and not torch.isfinite(values).all():
            raise ValueError(f"{name} holds NaN or infinity: a gradient check needs finite data.")
    return X, (y.long() if not torch.is_floating_point(y) else y)


def _first_loss(model, loss_fn, X, y) -> torch.Tensor:
    """The loss at the start, with our message when X or y does not fit the module."""
    try:
        output = model(X)
    except (RuntimeError, ValueError, IndexError) as error:
        raise ValueError(
            f"module cannot take X of shape {tuple(X.shape)}: {error}. Give X the shape "
            "its forward expects (n_samples, n_features for an MLP)."
        ) from None
    try:
        value = loss_fn(output, y)
    except (RuntimeError, ValueError, IndexError) as error:
        raise ValueError(
            f"criterion cannot compare the module's output of shape {tuple(output.shape)} "
            f"with y of shape {tuple(y.shape)}: {error}. Give y as the criterion expects "
            "(class indices for CrossEntropyLoss, the output's shape for MSELoss)."
        ) from None
    return value.mean() if value.dim() else value


class _GradientReport(DiagnosticReport):
    def plot(self, ax=None):
        """The worst relative error of each parameter tensor, on a log axis, with the
        thresholds (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        ax : matplotlib Axes
        """
        ax = axes_for(ax, figsize=(6.4, 0.4 * len(self) + 1.5))
        names = [check.name for check in self]
        # A gradient that is not finite shows as a full bar, marked so.
        values = [max(c.value, 1e-16) if np.isfinite(c.value) else 1.0 for c in self]
        colors = {"pass": "C2", "warn": "C1", "fail": "C3"}
        ax.barh(names[::-1], values[::-1], color=[colors[c.status] for c in list(self)[::-1]])
        for row, check in enumerate(list(self)[::-1]):
            if not np.isfinite(check.value):
                ax.annotate("not finite", (1.0, row), ha="right", va="center", fontsize=8)
        for limit, words in ((_WRONG, "wrong"), (_SUSPICIOUS, "suspicious"), (_GOOD, "good")):
            ax.axvline(limit, color="0.4", linestyle="--", linewidth=1)
            ax.annotate(words, (limit, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                        va="top", ha="right", fontsize=8)  # fmt: skip
        ax.set_xscale("log")
        ax.set_xlabel("worst relative error |analytic - numerical| / max(|analytic|, |numerical|)")
        return ax
