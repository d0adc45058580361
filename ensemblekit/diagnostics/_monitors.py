"""Training monitors: skorch callbacks that write per-layer statistics into the history.

CS231n's notes on "babysitting the learning process" watch, while a net trains, the size of
each update against the weights it changes, the gradient norms, and the share of dead or
saturated units. Each monitor here measures one of them on every training batch, keeps the
running sums on the net's device (no synchronisation per batch), and records the epoch's
mean per layer as one dict under its history key: ``net.history[:, "update_ratio"]`` is a
list of ``{layer: value}``, one per epoch. The keys stay out of the printed table.
"""

from __future__ import annotations

import torch
from skorch.callbacks import Callback, PrintLog

from ..utils._private import _foreach_copy_, _foreach_norm, _foreach_sub_


def _weights(net) -> list[tuple[str, torch.nn.Parameter]]:
    """The learnable weight tensors (two or more dimensions: not biases or norm scales)."""
    weights = [(name, p) for name, p in net.get_all_learnable_params() if p.dim() >= 2]
    if not weights:
        raise ValueError(
            f"{type(net.module_).__name__} has no learnable weight tensor (2 or more "
            "dimensions) to monitor."
        )
    return weights


class _Monitor(Callback):
    """Per-batch values of per-layer statistics, kept on the device and reduced at the end
    of each epoch into ``{layer: value}`` dicts. State set in training ends in ``_``:
    skorch takes a callback's other attributes for parameters."""

    keys: tuple[str, ...] = ()

    def on_train_begin(self, net, **kwargs) -> None:
        for _, callback in net.callbacks_:
            if isinstance(callback, PrintLog):  # a dict per epoch does not fit in its table
                callback.keys_ignored_ = set(callback.keys_ignored_) | set(self.keys)

    def on_epoch_begin(self, net, **kwargs) -> None:
        self.batches_: dict[str, list[torch.Tensor]] = {}

    def _keep(self, key: str, values: torch.Tensor) -> None:
        """One batch's values: appending costs less than adding up on every batch."""
        self.batches_.setdefault(key, []).append(values)

    def _record(self, net, key: str, layers: list[str], reduce=lambda v: v.mean(dim=0)) -> None:
        """Record ``{layer: value}`` under ``key``: the epoch's batches, stacked, reduced to
        one value per layer (their mean, unless ``reduce`` says otherwise)."""
        batches = self.batches_.get(key)
        values = [] if batches is None else reduce(torch.stack(batches)).tolist()
        net.history.record(key, dict(zip(layers, values, strict=True)) if batches else {})


class GradientMonitor(_Monitor):
    """Records the L2 norm of each weight tensor's gradient, averaged over an epoch's
    training batches, under the history key ``"grad_norm"``.

    Norms that shrink towards 0 layer after layer (vanishing) or grow (exploding), or that
    differ by orders of magnitude between layers, point to the initialisation, the
    activation or the learning rate.

    Weight tensors are the learnable parameters with two or more dimensions (linear and
    convolution weights; biases and normalisation scales are left out). The monitor acts on
    every batch, so an ensemble whose nets carry it trains them one by one rather than
    stacked.

    See Also
    --------
    UpdateRatioMonitor, ActivationMonitor : the other monitors.
    MonitorDisplay : draws the recorded values over epochs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.diagnostics import GradientMonitor
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(callbacks=[GradientMonitor()], max_epochs=3, random_state=0)
    >>> norms = net.fit(X, y).history[-1, "grad_norm"]
    >>> sorted(norms)
    ['layers.0.weight', 'layers.2.weight']
    """

    keys = ("grad_norm",)

    def on_train_begin(self, net, **kwargs) -> None:
        super().on_train_begin(net, **kwargs)
        self.weights_ = _weights(net)

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs) -> None:
        if not training:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for _, p in self.weights_]
        self._keep("grad_norm", torch.stack(_foreach_norm(grads)))

    def on_epoch_end(self, net, **kwargs) -> None:
        self._record(net, "grad_norm", [name for name, _ in self.weights_])


class UpdateRatioMonitor(_Monitor):
    """Records, per weight tensor, the size of the optimizer's updates against the size of
    the weights, under the history key ``"update_ratio"``: the mean over an epoch's steps of
    ``||W_after - W_before||`` divided by the mean of ``||W_after||``.

    CS231n's rule of thumb: around ``1e-3``. Much lower (``1e-5``) and the learning rate is
    probably too low; much higher (``1e-1``) and it is too high.

    Weight tensors are the learnable parameters with two or more dimensions. The monitor
    copies the weights before each step, so it costs one copy of them per batch. It acts on
    every batch, so an ensemble whose nets carry it trains them one by one rather than
    stacked.

    See Also
    --------
    GradientMonitor, ActivationMonitor : the other monitors.
    MonitorDisplay : draws the recorded values over epochs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.diagnostics import UpdateRatioMonitor
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(callbacks=[UpdateRatioMonitor()], lr=1e-3, max_epochs=3,
    ...                           random_state=0).fit(X, y)
    >>> ratios = net.history[-1, "update_ratio"]
    >>> all(1e-5 < ratio < 1e-1 for ratio in ratios.values())
    True
    """

    keys = ("update_ratio",)

    def on_train_begin(self, net, **kwargs) -> None:
        super().on_train_begin(net, **kwargs)
        self.weights_ = _weights(net)
        self.tensors_ = [weight for _, weight in self.weights_]
        self.before_ = [torch.empty_like(weight) for weight in self.tensors_]

    def on_grad_computed(self, net, named_parameters, training=False, **kwargs) -> None:
        if training:  # after backward, before the optimizer's step
            with torch.no_grad():
                _foreach_copy_(self.before_, self.tensors_)

    def on_batch_end(self, net, training=False, **kwargs) -> None:
        if training:  # the update's norms and the weights' norms, in one call
            with torch.no_grad():
                _foreach_sub_(self.before_, self.tensors_)
                norms = _foreach_norm(self.before_ + self.tensors_)
                self._keep("update_ratio", torch.stack(norms))

    def on_epoch_end(self, net, **kwargs) -> None:
        self._record(net, "update_ratio", [name for name, _ in self.weights_], _ratio)


def _ratio(norms: torch.Tensor) -> torch.Tensor:
    """Per weight tensor: the steps' update norms over their weight norms, summed."""
    update, scale = norms.sum(dim=0).view(2, -1)
    return update / scale.clamp_min(torch.finfo(scale.dtype).tiny)


# Activations whose units can die (output 0 for every input) or saturate (a flat tail,
# where the gradient vanishes), and how to map a saturating one onto [-1, 1].
_DYING = (torch.nn.ReLU, torch.nn.ReLU6)
_SATURATING = {torch.nn.Tanh: lambda a: a, torch.nn.Sigmoid: lambda a: 2 * a - 1}


class ActivationMonitor(_Monitor):
    """Records, per activation layer and epoch, the share of dead ReLU units (history key
    ``"dead_units"``) and of saturated tanh or sigmoid outputs (``"saturated_units"``).

    A ReLU unit is dead in an epoch when it outputs 0 for every training row of that epoch;
    a unit is one output element (a neuron, or one position of a convolution's channel).
    Dead units no longer learn: many of them point to a bad initialisation or a learning
    rate that is too high. An output is saturated when ``|tanh| >= saturation`` (for a
    sigmoid: ``|2 sigmoid - 1| >= saturation``), where the gradient nearly vanishes; the
    share is over the epoch's rows and units.

    The monitor hooks the module's activation *modules* (``torch.nn.ReLU``, ``ReLU6``,
    ``Tanh``, ``Sigmoid``): activations called as functions (``torch.relu(h)``) cannot be
    seen. A module used at several places in ``forward`` is reported once per call, as
    ``name``, ``name[1]``, ... It acts on every batch, so an ensemble whose nets carry it
    trains them one by one rather than stacked.

    Parameters
    ----------
    saturation : float, default=0.99
        Where the flat tail of tanh (or of a sigmoid mapped onto [-1, 1]) starts.

    See Also
    --------
    GradientMonitor, UpdateRatioMonitor : the other monitors.
    MonitorDisplay : draws the recorded values over epochs.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.diagnostics import ActivationMonitor
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(callbacks=[ActivationMonitor()], max_epochs=2,
    ...                           random_state=0).fit(X, y)
    >>> list(net.history[-1, "dead_units"])
    ['layers.1']
    """

    keys = ("dead_units", "saturated_units")

    def __init__(self, saturation: float = 0.99):
        self.saturation = saturation

    def on_train_begin(self, net, **kwargs) -> None:
        if not 0 < self.saturation < 1:
            raise ValueError(
                f"ActivationMonitor's saturation must be in (0, 1), got {self.saturation!r}."
            )
        super().on_train_begin(net, **kwargs)
        self._remove_hooks()
        watched = [
            (name, module)
            for name, module in net.module_.named_modules()
            if isinstance(module, _DYING + tuple(_SATURATING))
        ]
        if not watched:
            raise ValueError(
                f"ActivationMonitor found no activation module (ReLU, ReLU6, Tanh, Sigmoid) in "
                f"{type(net.module_).__name__}. It hooks modules: build the module with "
                "torch.nn.ReLU() layers rather than calling torch.relu, or leave the monitor out."
            )
        self.handles_ = [
            module.register_forward_hook(self._hook(name, module)) for name, module in watched
        ]

    def _hook(self, name: str, module: torch.nn.Module):
        spread = _SATURATING.get(type(module))  # None for a ReLU

        def hook(module, inputs, output):
            if not module.training or output.dim() == 0:
                return
            call = self.calls_.get(name, 0)
            self.calls_[name] = call + 1
            layer = name if call == 0 else f"{name}[{call}]"
            out = output.detach()
            if out.dim() > 2:
                out = out.flatten(1)  # one unit per output element
            if spread is None:  # a unit lives if its largest output is above 0
                self._keep(layer, out.amax(dim=0))
            else:
                saturated = torch.count_nonzero(spread(out).abs() >= self.saturation)
                self._keep(layer, saturated / out.numel())

        return hook

    def on_epoch_begin(self, net, **kwargs) -> None:
        super().on_epoch_begin(net, **kwargs)
        self.calls_: dict[str, int] = {}

    def on_batch_begin(self, net, training=False, **kwargs) -> None:
        self.calls_ = {}

    def on_epoch_end(self, net, **kwargs) -> None:
        dead, saturated = {}, {}
        for layer, values in self.batches_.items():
            if values[0].dim():  # a ReLU's peak per unit: dead if it never rose above 0
                dead[layer] = (torch.stack(values).amax(dim=0) <= 0).float().mean().item()
            else:  # a saturating activation's share per batch
                saturated[layer] = torch.stack(values).mean().item()
        net.history.record("dead_units", dead)
        net.history.record("saturated_units", saturated)

    def on_train_end(self, net, **kwargs) -> None:
        self._remove_hooks()

    def _remove_hooks(self) -> None:
        for handle in getattr(self, "handles_", []):
            handle.remove()
        self.handles_ = []
