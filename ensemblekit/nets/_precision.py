"""Mixed precision: the forward pass and the loss under ``torch.autocast``, the weights and
the optimizer's state in float32, Lightning's names for the settings."""

from __future__ import annotations

import contextlib

import torch

#: The ``precision`` settings, by Lightning's names, and the dtype autocast runs in.
PRECISIONS = {"32-true": None, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}


def autocast(precision: str, device) -> contextlib.AbstractContextManager:
    """The block runs under autocast at ``precision`` on ``device`` (nothing for 32-true)."""
    dtype = PRECISIONS[precision]
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def as_float32(output):
    """A module's output (a tensor, or a tuple of them) in float32 if autocast made it
    lower: predictions and losses leave the net in the precision of its weights."""
    if isinstance(output, tuple):
        return tuple(as_float32(part) for part in output)
    if isinstance(output, torch.Tensor) and output.dtype in (torch.bfloat16, torch.float16):
        return output.float()
    return output


def grad_scaler(precision: str, device):
    """A ``GradScaler`` for float16 training, None otherwise."""
    if precision != "16-mixed":
        return None
    return torch.amp.GradScaler(torch.device(device).type)
