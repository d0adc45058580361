"""Weight averaging as skorch callbacks: exponential moving average and SWA."""

from __future__ import annotations

import torch
from skorch.callbacks import Callback
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

from ..utils._fit_warnings import warn_user


def _has_batch_norm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


class EMA(Callback):
    """Exponential moving average of the weights (Polyak averaging), used for prediction.

    After every training step, ``w_avg <- decay * w_avg + (1 - decay) * w`` for every floating
    parameter and buffer (integer buffers are copied). When training ends the averaged
    weights replace the module's, so ``predict`` uses them. ``decay=0`` is exactly the plain
    net. Use it as ``callbacks=[("ema", EMA(decay=0.99))]``; ``callbacks__ema__decay`` is
    searchable.

    Parameters
    ----------
    decay : float in [0, 1), default=0.999

    Attributes
    ----------
    averaged_ : dict of str to torch.Tensor or None
        The running average of the module's state, during training (None before).

    See Also
    --------
    SWA : an equal-weight average over the last epochs.
    model_soup : average the weights of separately trained nets.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.averaging import EMA
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(callbacks=[("ema", EMA(decay=0.9))], max_epochs=5,
    ...                           random_state=0).fit(X, y)
    >>> net.predict(X[:3]).shape
    (3,)
    """

    def __init__(self, decay: float = 0.999):
        self.decay = decay

    def initialize(self):
        if not 0.0 <= float(self.decay) < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {self.decay!r}.")
        self.averaged_ = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.averaged_ = {k: v.detach().clone() for k, v in net.module_.state_dict().items()}

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        with torch.no_grad():
            for key, value in net.module_.state_dict().items():
                average = self.averaged_[key]
                if average.is_floating_point():
                    average.mul_(self.decay).add_(value, alpha=1.0 - self.decay)
                else:
                    average.copy_(value)

    def on_train_end(self, net, **kwargs):
        if self.averaged_ is not None:
            net.module_.load_state_dict(self.averaged_)


class SWA(Callback):
    """Stochastic weight averaging (Izmailov et al. 2018) on ``torch.optim.swa_utils``.

    After epoch ``swa_start``, the weights at the end of every epoch join an equal average
    (``AveragedModel``); with ``swa_lr`` set, the learning rate then anneals to that constant
    over ``anneal_epochs`` epochs (``SWALR``). When training ends, BatchNorm statistics are
    recomputed for the averaged weights on the training data (``update_bn``) and the
    averaged weights replace the module's, so ``predict`` uses them. Searchable as
    ``callbacks__swa__swa_start``.

    Parameters
    ----------
    swa_start : int, default=10
        Number of epochs trained before averaging starts (the average includes the weights
        after epoch ``swa_start + 1``, ``swa_start + 2``, ...).
    swa_lr : float or None, default=None
        Learning rate of the SWA phase; None keeps the optimizer's.
    anneal_epochs : int, default=5
        Epochs over which the learning rate moves to ``swa_lr``.
    anneal_strategy : {"cos", "linear"}, default="cos"

    Attributes
    ----------
    n_averaged_ : int
        Number of weight snapshots in the average after training.

    See Also
    --------
    EMA : an exponential average over every step.
    SnapshotCollector : keep several snapshots instead of their average.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.averaging import SWA
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(callbacks=[("swa", SWA(swa_start=3))], max_epochs=6,
    ...                           random_state=0).fit(X, y)
    >>> dict(net.callbacks_)["swa"].n_averaged_
    3
    """

    def __init__(
        self, swa_start: int = 10, swa_lr=None, anneal_epochs: int = 5, anneal_strategy: str = "cos"
    ):
        self.swa_start = swa_start
        self.swa_lr = swa_lr
        self.anneal_epochs = anneal_epochs
        self.anneal_strategy = anneal_strategy

    def initialize(self):
        if int(self.swa_start) < 0:
            raise ValueError(f"swa_start must be >= 0, got {self.swa_start!r}.")
        self.averaged_, self.scheduler_, self.n_averaged_ = None, None, 0
        return self

    def on_train_begin(self, net, **kwargs):
        self.averaged_ = AveragedModel(net.module_)
        self.scheduler_ = None

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) <= self.swa_start:
            return
        self.averaged_.update_parameters(net.module_)
        if self.swa_lr is None:
            return
        if self.scheduler_ is None:
            # Created once averaging starts; it steps after the optimizer's next epoch.
            self.scheduler_ = SWALR(
                net.optimizer_, swa_lr=self.swa_lr, anneal_epochs=self.anneal_epochs,
                anneal_strategy=self.anneal_strategy,
            )  # fmt: skip
        else:
            self.scheduler_.step()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        self.n_averaged_ = int(self.averaged_.n_averaged)
        if self.n_averaged_ == 0:  # training ended before swa_start: keep the plain weights
            warn_user(
                f"SWA averaged no weights: training ended after {len(net.history)} epochs, "
                f"before averaging starts (swa_start={self.swa_start}), so the net keeps its "
                "last weights. Set swa_start below max_epochs (and below the epoch early "
                "stopping ends at), or train for more epochs.",
                UserWarning,
            )
            return
        if _has_batch_norm(self.averaged_.module) and X is not None:
            update_bn(
                net.get_iterator(net.get_dataset(X), training=False),
                self.averaged_,
                device=net.device,
            )
        net.module_.load_state_dict(self.averaged_.module.state_dict())
