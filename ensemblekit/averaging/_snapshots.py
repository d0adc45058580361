"""Snapshots of one training run, with the cyclic learning rates that make them diverse."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import ClassVar

import torch
from skorch.callbacks import Callback


def cycle_ends(n_iterations: int, n_cycles: int) -> list[int]:
    """Iterations (1-based) that end each of ``n_cycles`` nearly equal cycles.

    When ``n_cycles`` divides ``n_iterations`` every cycle has ``n_iterations / n_cycles``
    iterations (Huang et al.'s ``ceil(T/M)``); otherwise lengths differ by at most one, so
    every cycle still ends at its lowest learning rate.
    """
    if n_cycles > n_iterations:
        raise ValueError(
            f"{n_cycles} snapshots need at least {n_cycles} training iterations, but this "
            f"fit runs {n_iterations} (max_epochs x batches per epoch). Train longer, use "
            "smaller batches, or take fewer snapshots."
        )
    return [k * n_iterations // n_cycles for k in range(1, n_cycles + 1)]


def cyclic_lr(
    iteration: int, ends: list[int], schedule: str, lr_max: float, lr_min: float = 0.0
) -> float:
    """Learning rate of ``iteration`` (1-based) in the cycles that end at ``ends``.

    "cosine" (Huang et al. 2017): ``lr_min + (lr_max - lr_min) / 2 * (cos(pi * j / c) + 1)``
    with ``j`` the 0-based position in a cycle of ``c`` iterations; with ``lr_min=0`` and
    equal cycles this is ``lr0 / 2 * (cos(pi * mod(t - 1, ceil(T/M)) / ceil(T/M)) + 1)``.
    "triangular" (Garipov et al. 2018, FGE): linear from ``lr_min`` up to ``lr_max`` at
    mid-cycle and back down to ``lr_min`` at the cycle's end, where the snapshot is taken.
    """
    start = 0
    for end in ends:
        if iteration <= end:
            break
        start = end
    else:
        raise ValueError(f"iteration {iteration} is past the last cycle (ends at {ends[-1]}).")
    length, position = end - start, iteration - start - 1
    if schedule == "cosine":
        return lr_min + (lr_max - lr_min) / 2 * (math.cos(math.pi * position / length) + 1)
    phase = (position + 1) / length
    return lr_min + (lr_max - lr_min) * (1 - abs(2 * phase - 1))


class SnapshotCollector(Callback):
    """Keep copies of a net's weights at ``n_snapshots`` points of one training run.

    The run's ``max_epochs x batches per epoch`` iterations are split into ``n_snapshots``
    nearly equal cycles (epochs need not be divisible by the number of snapshots), and the
    weights are copied at the end of each. With ``schedule`` set, the learning rate follows
    a cycle of that shape, set every iteration, so that each snapshot sits at a low learning
    rate after a restart from a high one: the snapshot ensembles of Huang et al. (2017,
    "cosine") and the fast geometric ensembles of Garipov et al. (2018, "triangular").
    With ``schedule=None`` the optimizer's learning rate is left alone: the snapshots are
    plain checkpoints of the run. The optimizer's learning rates are restored when
    training ends.

    Snapshots are CPU copies of ``module_.state_dict()`` held in memory, or ``.pt`` files
    (``torch.save`` of the state dict) in ``dirname`` when one is given; nothing is ever
    written to the working directory unless you name it. Build an ensemble from them with
    :meth:`ensemblekit.ensemble.SnapshotEnsembleClassifier.from_checkpoints`, or a soup with
    :func:`ensemblekit.averaging.model_soup`. Searchable as
    ``callbacks__snapshots__n_snapshots`` when added as ``("snapshots", SnapshotCollector())``.

    Parameters
    ----------
    n_snapshots : int, default=5
        Number of cycles, and of snapshots (fewer when early stopping ends the run first).
    schedule : {"cosine", "triangular"} or None, default=None
        Shape of the learning rate in each cycle; None leaves it to the optimizer.
    lr_max : float or None, default=None
        Highest learning rate of a cycle; None uses each parameter group's own.
    lr_min : float, default=0.0
        Lowest learning rate of a cycle.
    dirname : str, path or None, default=None
        Directory for ``snapshot_<k>.pt`` files (created if needed); None keeps snapshots
        in memory.
    verbose : int, default=0
        > 0 prints a line as each snapshot is taken.

    Attributes
    ----------
    snapshots_ : list of dict or list of str
        State dicts on the CPU, or file paths when ``dirname`` is set, oldest first.
    snapshot_iterations_ : list of int
        Training iteration (1-based, counted over the run) of each snapshot.
    SCHEDULES : tuple of str
        The learning-rate schedules it follows (a class attribute).

    See Also
    --------
    ensemblekit.ensemble.SnapshotEnsembleClassifier : the ensemble of the snapshots.
    SWA : one average instead of several copies.

    Notes
    -----
    The learning rate of every training batch is recorded in the net's history as
    ``"lr"`` (``net.history[:, "batches", :, "lr"]``).

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.averaging import SnapshotCollector
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> collector = SnapshotCollector(n_snapshots=3, schedule="cosine")
    >>> net = NeuralNetClassifier(callbacks=[("snapshots", collector)], max_epochs=7,
    ...                           batch_size=50, random_state=0).fit(X, y)
    >>> snapshots = dict(net.callbacks_)["snapshots"]
    >>> len(snapshots.snapshots_), snapshots.snapshot_iterations_
    (3, [7, 14, 21])
    """

    SCHEDULES: ClassVar[tuple[str, ...]] = ("cosine", "triangular")

    def __init__(
        self,
        n_snapshots: int = 5,
        *,
        schedule: str | None = None,
        lr_max: float | None = None,
        lr_min: float = 0.0,
        dirname: str | os.PathLike | None = None,
        verbose: int = 0,
    ):
        self.n_snapshots = n_snapshots
        self.schedule = schedule
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.dirname = dirname
        self.verbose = verbose

    def initialize(self):
        if isinstance(self.n_snapshots, bool) or int(self.n_snapshots) != self.n_snapshots:
            raise ValueError(f"n_snapshots must be an int >= 1, got {self.n_snapshots!r}.")
        if self.n_snapshots < 1:
            raise ValueError(f"n_snapshots must be an int >= 1, got {self.n_snapshots!r}.")
        if self.schedule is not None and self.schedule not in self.SCHEDULES:
            raise ValueError(
                f"schedule must be 'cosine', 'triangular' or None, got {self.schedule!r}."
            )
        if self.lr_min < 0 or (self.lr_max is not None and self.lr_max < self.lr_min):
            raise ValueError(
                f"Need 0 <= lr_min <= lr_max; got lr_min={self.lr_min!r}, lr_max={self.lr_max!r}."
            )
        self.snapshots_, self.snapshot_iterations_ = [], []
        self._ends = None
        return self

    def on_train_begin(self, net, **kwargs):
        self.snapshots_, self.snapshot_iterations_ = [], []
        self._ends, self._iteration = None, 0
        self._base_lrs = [group["lr"] for group in net.optimizer_.param_groups]

    def on_epoch_begin(self, net, dataset_train=None, **kwargs):
        if self._ends is not None:
            return
        iterator = net.get_iterator(dataset_train, training=True)
        try:
            per_epoch = len(iterator)
        except TypeError:
            raise ValueError(
                "SnapshotCollector needs the number of batches per epoch, but the training "
                f"iterator {type(iterator).__name__} has no len()."
            ) from None
        self._ends = cycle_ends(int(net.max_epochs) * per_epoch, int(self.n_snapshots))

    def on_batch_begin(self, net, training=False, **kwargs):
        if not training or self.schedule is None:
            return
        for group, base in zip(net.optimizer_.param_groups, self._base_lrs, strict=True):
            lr_max = base if self.lr_max is None else self.lr_max
            group["lr"] = cyclic_lr(
                self._iteration + 1, self._ends, self.schedule, lr_max, self.lr_min
            )

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        net.history.record_batch("lr", net.optimizer_.param_groups[0]["lr"])
        self._iteration += 1
        taken = len(self.snapshots_)
        if taken < len(self._ends) and self._iteration == self._ends[taken]:
            self._take(net)

    def _take(self, net) -> None:
        state = {k: v.detach().to("cpu", copy=True) for k, v in net.module_.state_dict().items()}
        if self.dirname is not None:
            Path(self.dirname).mkdir(parents=True, exist_ok=True)
            path = os.path.join(self.dirname, f"snapshot_{len(self.snapshots_)}.pt")
            torch.save(state, path)
            state = path
        self.snapshots_.append(state)
        self.snapshot_iterations_.append(self._iteration)
        if self.verbose:
            print(
                f"snapshot {len(self.snapshots_)}/{self.n_snapshots} taken at iteration "
                f"{self._iteration} (epoch {len(net.history)})"
            )

    def on_train_end(self, net, **kwargs):
        for group, base in zip(net.optimizer_.param_groups, self._base_lrs, strict=True):
            group["lr"] = base
