"""Members of any torch module trained as one model: ``torch.func`` over stacked weights.

``torch.func.vmap`` of ``functional_call`` runs K copies of a module, each with its own
weights and buffers (BatchNorm's running statistics included), as one batched forward.
Dropout is the one source of randomness a module may have here: torch's dropout
functions are caught by a function mode and each member's masks are drawn from a
generator holding the state torch's global generator has in the member's own fit, with
the operations torch's CPU kernel uses, so a stacked member gets its own fit's masks. Any
other random operation, data-dependent control flow or an operation ``vmap`` cannot batch
is found by :func:`vmap_blocker` on a few rows, before any member trains.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap
from torch.overrides import TorchFunctionMode


def _elementwise(x: torch.Tensor) -> int:
    return x.dim()


def _channels(x: torch.Tensor) -> int:
    return 2


def _channels_if(batched_dim: int):
    """Feature dropout that adds a batch axis to an input of ``batched_dim - 1`` axes."""
    return lambda x: 2 if x.dim() == batched_dim else 1


# torch's dropout functions, each with how many leading axes its masks span (the rest
# share one draw): all of them for dropout, (N, C) for the channel-wise kinds.
_DROPOUTS = {
    F.dropout: _elementwise,
    torch.dropout: _elementwise,
    F.dropout1d: _channels_if(3),
    F.dropout2d: _channels,
    F.dropout3d: _channels_if(5),
    torch.feature_dropout: _channels,
}
# The Python functions, whose arguments may come by keyword (torch's own take them in order).
_SIGNATURES = {
    func: inspect.signature(func) for func in (F.dropout, F.dropout1d, F.dropout2d, F.dropout3d)
}


class _MemberDropout(TorchFunctionMode):
    """torch's dropout in a vmapped forward, each member's masks from its own generator.

    ``generators=None`` checks a module without drawing: masks are all ones, so a vmap in
    ``randomness="error"`` mode fails on any other random operation.
    """

    def __init__(self, generators: list[torch.Generator] | None, n_members: int):
        super().__init__()
        self.generators, self.n_members = generators, n_members
        self.member: torch.Tensor | None = None  # the vmapped member index

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        lead = _DROPOUTS.get(func)
        if lead is None:
            return func(*args, **kwargs)
        if func in _SIGNATURES:
            bound = _SIGNATURES[func].bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = bound.arguments
            x, p, training = arguments["input"], arguments["p"], arguments["training"]
        else:  # torch.dropout(input, p, train)
            x, p, training = args[:3]
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        if not training or p == 0.0 or x.numel() == 0:
            return x
        if p == 1.0:
            return x * torch.zeros((), dtype=x.dtype, device=x.device)
        axes = lead(x)
        shape = (*x.shape[:axes], *([1] * (x.dim() - axes)))
        return x * self._noise(shape, 1.0 - p, x)[self.member]

    def _noise(self, shape, keep: float, like: torch.Tensor) -> torch.Tensor:
        """Each member's scaled mask, (K, *shape), as torch's CPU dropout kernel draws it."""
        if self.generators is None:
            return torch.ones((self.n_members, *shape), dtype=like.dtype, device=like.device)
        return torch.stack(
            [
                torch.empty(shape, dtype=like.dtype, device=like.device)
                .bernoulli_(keep, generator=generator)
                .div_(keep)
                for generator in self.generators
            ]
        )


class VmapForward:
    """The forward pass of K members of one module, from their stacked weights.

    ``module`` is one member's module; a copy of it gives the structure that
    ``functional_call`` fills with each member's parameters and buffers.
    """

    def __init__(self, module: torch.nn.Module):
        self.module = copy.deepcopy(module)

    def __call__(self, params, buffers, inputs, training: bool, generators=None):
        """Outputs (K, b, ...) for ``inputs`` (K, b, ...); ``generators`` draw each
        member's dropout masks when training (None: masks of ones, for checks only)."""
        self.module.train(training)
        dropout = _MemberDropout(generators, len(inputs))

        def member_forward(member_params, member_buffers, x, member):
            dropout.member = member
            return functional_call(self.module, (member_params, member_buffers), (x,))

        # Masks are drawn unbatched, per member, inside the vmap: "same" lets them be.
        randomness = "error" if generators is None else "same"
        members = torch.arange(len(inputs), device=inputs.device)
        with dropout:
            return vmap(member_forward, randomness=randomness)(params, buffers, inputs, members)


def vmap_blocker(net, module, X: torch.Tensor, y: torch.Tensor) -> str | None:
    """Why ``module`` (an initialized member's) cannot train stacked through ``torch.func``.

    Runs two copies of it on a few rows, training (forward, per-row loss by the net's
    criterion, backward) and evaluating; None when all of that works.
    """
    name = type(module).__name__
    params = {n: torch.stack([p.detach(), p.detach()]) for n, p in module.named_parameters()}
    buffers = {n: torch.stack([b, b]) for n, b in module.named_buffers()}
    for tensor in params.values():
        tensor.requires_grad_(True)
    inputs = torch.stack([X, X])
    forward = VmapForward(module)
    try:
        output = forward(params, buffers, inputs, training=True)
    except Exception as error:  # any failure is a reason to fall back
        if "random operation" in str(error):
            return (
                f"the module {name} draws random numbers other than through torch's dropout "
                "functions, and only dropout masks can be drawn for each member as its own "
                "fit draws them"
            )
        return _cannot_run(name, error)
    if not torch.is_tensor(output) or output.shape[:2] != inputs.shape[:2]:
        return f"the module {name} does not return one tensor with a row per input row"
    try:
        loss = net.row_losses(output.flatten(0, 1), torch.cat([y, y]))
    except Exception as error:
        criterion = type(net.criterion_).__name__
        return f"the criterion {criterion} fails on per-row outputs ({_sentence(error)})"
    if loss.shape != (2 * len(X),):
        criterion = type(net.criterion_).__name__
        return (
            f"the criterion {criterion} gives no per-row losses (give it a `reduction` "
            "argument, which the net sets to 'none')"
        )
    try:
        loss.sum().backward()
        with torch.no_grad():
            forward(params, buffers, inputs, training=False)
    except Exception as error:
        return _cannot_run(name, error)
    return None


def _cannot_run(name: str, error: Exception) -> str:
    return f"torch.func.vmap cannot run the module {name} ({_sentence(error)})"


def _sentence(error: Exception) -> str:
    """The error's type and the first sentence of its message: torch's run on."""
    text = str(error).strip().splitlines()
    sentence = text[0].split(". ")[0].rstrip(".") if text else ""
    return f"{type(error).__name__}: {sentence}"


def training_bytes_per_row(module, X: torch.Tensor) -> int:
    """Bytes a training step of ``module`` holds per row of ``X`` at its peak, measured on
    one copy of it through torch's saved-tensor hooks: the activations a forward keeps for
    backward, the gradient of the largest of them, which backward holds beside them, and
    the largest of the columns a convolution unfolds its input into (im2col)."""
    params = {n: p.detach()[None].requires_grad_(True) for n, p in module.named_parameters()}
    buffers = {n: b.clone()[None] for n, b in module.named_buffers()}
    # Weights saved for backward are the stack's own tensors, not memory per row.
    weights = {t.untyped_storage().data_ptr() for t in (*params.values(), *buffers.values())}
    sizes, unfolded = [0], [0]

    def pack(tensor):
        if tensor.untyped_storage().data_ptr() not in weights:
            sizes.append(tensor.numel() * tensor.element_size())
        return tensor

    def unfold(conv, inputs, output):
        spatial = output.shape[-len(conv.kernel_size) :]
        columns = conv.in_channels * math.prod(conv.kernel_size) * math.prod(spatial)
        unfolded.append(columns * output.element_size() * len(X))

    forward = VmapForward(module)
    for layer in forward.module.modules():
        if isinstance(layer, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)):
            layer.register_forward_hook(unfold)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        generators = [torch.Generator(X.device)]  # dropout masks are drawn, as in training
        forward(params, buffers, X[None], training=True, generators=generators)
    return (sum(sizes) + max(sizes) + max(unfolded)) // max(len(X), 1)
