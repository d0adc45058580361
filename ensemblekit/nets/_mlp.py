"""The default module: a multi-layer perceptron whose randomness is all its own."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral

import torch
from torch import nn

_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "identity": nn.Identity,
}

_MAX_SEED = 2**31 - 1


class _SeededDropout(nn.Module):
    """Dropout that draws its masks from the owning MLP's generator, not torch's global one.

    torch's global RNG is shared by every thread of a process, so nets trained side by side
    under joblib's threading backend would interleave their draws; a generator per net
    keeps each net's masks a pure function of its seed.
    """

    def __init__(self, p: float, owner: MLP):
        super().__init__()
        self.p = float(p)
        # A plain attribute, not a submodule: the owner holds this module already.
        object.__setattr__(self, "_owner", owner)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self._owner._generator_for(x.device))
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


class MLP(nn.Module):
    """Multi-layer perceptron, the default module of ensemblekit's nets.

    The nets fill in ``n_features`` and ``n_outputs`` from the data at fit time, so a net
    built with no arguments works on any table, including a random feature subspace. Weight
    initialisation and dropout masks come from a generator seeded by ``random_state``, which
    makes training reproducible in any process or thread.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_outputs : int
        Width of the output: one logit per class for classification, one value per target
        for regression.
    hidden_units : sequence of int, default=(100,)
        Width of each hidden layer; ``()`` gives a linear model.
    activation : str or callable, default="relu"
        One of ``"relu"``, ``"tanh"``, ``"logistic"``, ``"sigmoid"``, ``"gelu"``, ``"elu"``,
        ``"leaky_relu"``, ``"identity"``, or a callable returning an ``nn.Module``.
    dropout : float, default=0.0
        Dropout probability after each hidden activation, in [0, 1).
    batch_norm : bool, default=False
        Insert ``BatchNorm1d`` after each hidden linear layer.
    depth : int or None, default=None
        The number of hidden layers, each ``hidden_units`` wide (an int): a search over
        widths and depths as two integers (``module__hidden_units`` and
        ``module__depth``), which Optuna samples without warnings where tuples warn. None
        takes ``hidden_units`` as it is.
    random_state : int or None, default=None
        Seed of the weight initialisation and dropout masks. ``None`` draws a seed from
        torch's global generator.

    Attributes
    ----------
    layers : torch.nn.Sequential
        The layers in order: ``layers.0`` is the first linear layer, the last is the output
        layer (the names the training monitors and ``gradient_check`` report).
    seed : int
        The seed of the initial weights and of dropout (drawn when ``random_state`` is None).

    See Also
    --------
    NeuralNetClassifier : the classifier that uses it by default.
    NeuralNetRegressor : the regressor that uses it by default.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.nets import MLP
    >>> mlp = MLP(n_features=4, n_outputs=3, hidden_units=(8,), random_state=0)
    >>> mlp(torch.zeros(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(
        self,
        n_features: int,
        n_outputs: int,
        hidden_units: Sequence[int] = (100,),
        activation: str | Callable[[], nn.Module] = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
        depth: int | None = None,
        random_state: int | None = None,
    ):
        super().__init__()
        _check_mlp_args(n_features, n_outputs, hidden_units, activation, dropout)
        hidden_units = _layer_widths(hidden_units, depth)
        if random_state is None:
            random_state = int(torch.randint(_MAX_SEED, ()).item())
        self.seed = int(random_state)
        self._generators: dict[torch.device, torch.Generator] = {}

        make_activation = _ACTIVATIONS[activation] if isinstance(activation, str) else activation
        layers: list[nn.Module] = []
        width = int(n_features)
        for units in hidden_units:
            layers.append(nn.Linear(width, units))
            if batch_norm:
                layers.append(nn.BatchNorm1d(units))
            layers.append(make_activation())
            if dropout > 0:
                layers.append(_SeededDropout(dropout, self))
            width = units
        layers.append(nn.Linear(width, int(n_outputs)))
        self.layers = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise every linear layer as torch does, from this module's own seed."""
        generator = torch.Generator().manual_seed(self.seed)
        for layer in self.layers:
            if isinstance(layer, nn.Linear):
                # Same distribution as nn.Linear.reset_parameters, drawn from our generator.
                nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features else 0.0
                nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
        self._generators.clear()

    def _generator_for(self, device: torch.device) -> torch.Generator:
        """The dropout generator on ``device``, created on first use from the seed."""
        if device not in self._generators:
            # Offset from the init seed so masks and weights are not drawn from one stream.
            self._generators[device] = torch.Generator(device=device).manual_seed(
                (self.seed + 1) % _MAX_SEED
            )
        return self._generators[device]

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.layers(X)

    def __getstate__(self) -> dict:
        # Generators may live on a GPU: leave them out so the module unpickles anywhere.
        state = self.__dict__.copy()
        state["_generators"] = {}
        return state


def _layer_widths(hidden_units, depth) -> tuple[int, ...]:
    """The hidden layers' widths: ``hidden_units`` as given, or one width ``depth`` times."""
    if depth is None:
        return (hidden_units,) if isinstance(hidden_units, Integral) else tuple(hidden_units)
    if isinstance(depth, bool) or not isinstance(depth, Integral) or depth < 0:
        raise ValueError(f"depth must be None or an integer >= 0, got {depth!r}.")
    if not isinstance(hidden_units, Integral):
        raise ValueError(
            f"depth={depth} repeats one width: give hidden_units as an int (the width of "
            f"each layer), got {hidden_units!r}."
        )
    return (int(hidden_units),) * int(depth)


def _check_mlp_args(n_features, n_outputs, hidden_units, activation, dropout) -> None:
    """Fail at construction with the argument's name rather than deep inside torch."""
    if int(n_features) < 1 or int(n_outputs) < 1:
        raise ValueError(
            f"MLP needs n_features >= 1 and n_outputs >= 1, got {n_features} and {n_outputs}."
        )
    units = (hidden_units,) if isinstance(hidden_units, Integral) else hidden_units
    if isinstance(units, str) or not all(
        isinstance(u, Integral) and not isinstance(u, bool) and u >= 1 for u in units
    ):
        raise ValueError(
            f"hidden_units must be a sequence of positive integers such as (64, 64), got "
            f"{hidden_units!r}."
        )
    if isinstance(activation, str) and activation not in _ACTIVATIONS:
        raise ValueError(
            f"Unknown activation {activation!r}; use one of {sorted(_ACTIVATIONS)} "
            "or pass a callable that returns an nn.Module."
        )
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")


def stacks_by_bmm(module: nn.Module) -> bool:
    """Whether :func:`stacked_forward` runs ``module``: an MLP (not a subclass, whose forward
    may differ) whose layers it knows; its activations act on each element, so they apply to
    stacked members as they are. Other modules train stacked through ``torch.func.vmap``,
    which measures 1.15-1.3x slower than these batched matrix products on MLPs."""
    known = (nn.Linear, nn.BatchNorm1d, _SeededDropout, *_ACTIVATIONS.values())
    return type(module) is MLP and all(type(layer) in known for layer in module.layers)


def stacked_forward(
    modules: Sequence[MLP],
    params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    h: torch.Tensor,
    training: bool,
) -> torch.Tensor:
    """The forward pass of K MLPs of one architecture at once, on ``h`` of shape (K, b, d).

    ``params`` and ``buffers`` hold each of the modules' tensors stacked along a first axis
    of size K, under the modules' own names (``layers.0.weight``). Linear layers are one
    ``baddbmm``; dropout masks come from each module's own generator, as in its forward;
    BatchNorm uses (and, training, updates) each member's running statistics.
    """
    for position, layer in enumerate(modules[0].layers):
        name = f"layers.{position}"
        if isinstance(layer, nn.Linear):
            weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]
            h = torch.baddbmm(bias[:, None], h, weight.transpose(1, 2))
        elif isinstance(layer, nn.BatchNorm1d):
            h = _stacked_batch_norm(h, layer, name, params, buffers, training)
        elif isinstance(layer, _SeededDropout):
            if training and layer.p > 0:
                keep = 1.0 - layer.p
                masks = [
                    torch.empty(h.shape[1:], device=h.device, dtype=h.dtype).bernoulli_(
                        keep, generator=module._generator_for(h.device)
                    )
                    for module in modules
                ]
                h = h * torch.stack(masks) / keep
        else:
            h = layer(h)
    return h


def _stacked_batch_norm(h, layer: nn.BatchNorm1d, name, params, buffers, training: bool):
    """``F.batch_norm`` of each member on its own rows and with its own running statistics."""
    running_mean, running_var = buffers[f"{name}.running_mean"], buffers[f"{name}.running_var"]
    if training:
        mean, var = h.mean(1), h.var(1, unbiased=False)
        with torch.no_grad():
            n = h.shape[1]
            momentum = layer.momentum
            running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
            unbiased = var.detach() * (n / max(n - 1, 1))
            running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
            buffers[f"{name}.num_batches_tracked"].add_(1)
    else:
        mean, var = running_mean, running_var
    h = (h - mean[:, None]) / torch.sqrt(var[:, None] + layer.eps)
    return h * params[f"{name}.weight"][:, None] + params[f"{name}.bias"][:, None]
