"""The learning-rate range test (Smith 2017): a short run at an exponentially rising rate."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from skorch.callbacks import Callback

from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import deferred_warnings, warn_user
from ..utils._optional import axes_for
from ..utils._results import ArrayFieldsEqual

RULE = "a tenth of the rate at which the smoothed loss is lowest"


def _running_median(values: np.ndarray, window: int) -> np.ndarray:
    """The median of the ``window`` values centred on each (fewer at the ends): smooth,
    without lag, and deaf to the single huge losses of a diverging tail."""
    half = window // 2
    medians = [np.median(values[max(0, i - half) : i + half + 1]) for i in range(len(values))]
    return np.array(medians)


class _RisingRate(Callback):
    """Sets the rate of step i to ``rates[i]``, records each step's loss, and ends training
    (as skorch's callbacks do, by raising KeyboardInterrupt) after the last rate or once
    the median of the last ``window`` losses has diverged."""

    def __init__(self, rates: np.ndarray, window: int, diverge_factor: float):
        self.rates, self.window, self.diverge_factor = rates, window, diverge_factor

    def on_train_begin(self, net, **kwargs) -> None:
        self.losses_: list[float] = []
        self.lowest_ = np.inf

    def on_batch_begin(self, net, training=False, **kwargs) -> None:
        if training:
            for group in net.optimizer_.param_groups:
                group["lr"] = float(self.rates[len(self.losses_)])

    def on_batch_end(self, net, training=False, loss=None, **kwargs) -> None:
        if not training:
            return
        value = float(loss.detach())
        self.losses_.append(value)
        if not math.isfinite(value):
            raise KeyboardInterrupt
        recent = float(np.median(self.losses_[-self.window :]))
        self.lowest_ = min(self.lowest_, recent)
        diverged = recent > self.diverge_factor * self.lowest_
        if diverged or len(self.losses_) == len(self.rates):
            raise KeyboardInterrupt


@dataclass(frozen=True, eq=False)
class LRRangeTest(ArrayFieldsEqual):
    """The result of :func:`lr_range_test`.

    Attributes
    ----------
    lrs : ndarray of shape (n_done,)
        The learning rate of each step taken.
    losses : ndarray of shape (n_done,)
        Each step's training loss (on its batch).
    smoothed_losses : ndarray of shape (n_done,)
        The losses smoothed without lag: the median of the ``window`` steps centred on
        each (NaN from a loss that was not finite).
    suggested_lr : float
        The suggested learning rate, by ``rule``.
    rule : str
        How ``suggested_lr`` was chosen.

    See Also
    --------
    lr_range_test : the function that returns it.
    LRRangeDisplay : its plot.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.diagnostics import lr_range_test
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> result = lr_range_test(NeuralNetClassifier(batch_size=16, random_state=0),
    ...                        StandardScaler().fit_transform(X), y, n_steps=30)
    >>> result.lrs.shape == result.losses.shape == result.smoothed_losses.shape
    True
    >>> bool(result.lrs[0] < result.suggested_lr < result.lrs[-1])
    True
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    suggested_lr: float
    rule: str

    def __repr__(self) -> str:
        return (
            f"LRRangeTest(suggested_lr={self.suggested_lr:.3g}: {self.rule}; "
            f"{len(self.lrs)} steps from {self.lrs[0]:.3g} to {self.lrs[-1]:.3g})"
        )

    def plot(self, ax=None) -> LRRangeDisplay:
        """Draw the test (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            A new figure if None.

        Returns
        -------
        display : LRRangeDisplay
        """
        return LRRangeDisplay(self).plot(ax=ax)


class LRRangeDisplay:
    """A learning-rate range test drawn: loss against rate on a log axis, raw and smoothed,
    with the lowest smoothed loss and the suggested rate marked. Needs matplotlib (the
    ``plot`` extra).

    Parameters
    ----------
    result : LRRangeTest

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    lr_range_test : runs the test.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.diagnostics import LRRangeDisplay
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> display = LRRangeDisplay.from_estimator(NeuralNetClassifier(batch_size=16, random_state=0),
    ...                                         StandardScaler().fit_transform(X), y, n_steps=30)
    >>> display.ax_.get_xscale()
    'log'
    """

    def __init__(self, result: LRRangeTest):
        self.result = result

    @classmethod
    def from_estimator(cls, net, X, y, *, ax=None, **test_params) -> LRRangeDisplay:
        """Run :func:`lr_range_test` and draw it.

        Parameters
        ----------
        net : NeuralNetClassifier or NeuralNetRegressor
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        ax : matplotlib Axes, default=None
        **test_params
            Passed to :func:`lr_range_test`.

        Returns
        -------
        display : LRRangeDisplay
        """
        return cls(lr_range_test(net, X, y, **test_params)).plot(ax=ax)

    def plot(self, ax=None) -> LRRangeDisplay:
        """Draw on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        self
        """
        ax = axes_for(ax)
        result = self.result
        ax.plot(result.lrs, result.losses, color="0.7", linewidth=1, label="loss per step")
        ax.plot(result.lrs, result.smoothed_losses, color="C0", label="smoothed")
        lowest = int(np.nanargmin(result.smoothed_losses))
        ax.plot(result.lrs[lowest], result.smoothed_losses[lowest], "o", color="C0",
                label=f"lowest smoothed loss (lr {result.lrs[lowest]:.2g})")  # fmt: skip
        ax.axvline(result.suggested_lr, color="C2", linestyle="--",
                   label=f"suggested lr {result.suggested_lr:.2g}")  # fmt: skip
        ax.set_xscale("log")
        # Up to half as much again as the starting loss: the diverging tail would squash
        # the part that matters.
        finite = result.losses[np.isfinite(result.losses)]
        start = result.smoothed_losses[0]
        low, high = finite.min(), min(finite.max(), start + 0.5 * abs(start))
        margin = 0.05 * (high - low) if high > low else 0.1
        ax.set_ylim(low - margin, high + margin)
        ax.set(xlabel="learning rate (log scale)", ylabel="training loss")
        ax.set_title(f"suggested: {result.rule}", fontsize="medium", wrap=True)
        ax.legend(fontsize="small", loc="upper left")
        self.ax_, self.figure_ = ax, ax.figure
        return self


def lr_range_test(
    net, X, y, *, start_lr: float = 1e-6, end_lr: float = 10.0, n_steps: int = 100,
    window: int | None = None, diverge_factor: float = 4.0,
) -> LRRangeTest:  # fmt: skip
    """Train a clone of ``net`` for ``n_steps`` batches at a rate rising exponentially from
    ``start_lr`` to ``end_lr``, and suggest a learning rate (Smith 2017).

    Each step's loss is recorded. The loss first stays flat (rates too small to learn),
    then falls, then rises steeply as the rate grows too large; the test stops there, once
    the median of the last ``window`` losses is ``diverge_factor`` times its lowest, or a
    loss is not finite. The losses are then smoothed without lag (the median of the
    ``window`` steps centred on each), and the suggestion is a tenth of the rate at which
    the smoothed loss is lowest: a rate still safely inside the falling part. The
    test uses the net's own module, criterion, optimizer, batch size, device and seed; the
    net passed is never changed. Treat the suggestion as the start of a search, not its end.

    Parameters
    ----------
    net : NeuralNetClassifier or NeuralNetRegressor
        Any module, criterion and optimizer with a learning rate.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    start_lr, end_lr : float, default=1e-6 and 10.0
        The first and last rate; ``0 < start_lr < end_lr``.
    n_steps : int, default=100
        Optimizer steps (batches), over as many epochs as they take.
    window : int or None, default=None
        Steps in each running median (odd, >= 3); None: a tenth of ``n_steps``, odd.
    diverge_factor : float, default=4.0
        Stop once the running median of the loss exceeds this multiple of its lowest (> 1).

    Returns
    -------
    result : LRRangeTest
        ``lrs``, ``losses``, ``smoothed_losses`` per step, ``suggested_lr`` and ``rule``;
        ``result.plot()`` draws it.

    Warns
    -----
    UserWarning
        When the smoothed loss is lowest at the first or the last rate: the range should
        start lower or end higher.

    See Also
    --------
    sanity_check : the checks to run before a test of the rate.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from ensemblekit.diagnostics import lr_range_test
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> net = NeuralNetClassifier(batch_size=32, random_state=0)
    >>> result = lr_range_test(net, X / 16, y, n_steps=60)
    >>> 1e-6 < result.suggested_lr < 10
    True
    >>> result.rule
    'a tenth of the rate at which the smoothed loss is lowest'
    """
    if not isinstance(net, NeuralNetClassifier | NeuralNetRegressor):
        raise TypeError(
            "net must be an ensemblekit NeuralNetClassifier or NeuralNetRegressor (any "
            f"module), got {type(net).__name__}."
        )
    if not 0 < start_lr < end_lr:
        raise ValueError(
            f"The rates must rise: 0 < start_lr < end_lr, got start_lr={start_lr!r} and "
            f"end_lr={end_lr!r}."
        )
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 5:
        raise ValueError(f"n_steps must be an int >= 5, got {n_steps!r}.")
    if window is None:
        window = max(3, n_steps // 10) | 1
    if isinstance(window, bool) or not isinstance(window, int) or window < 3 or window % 2 == 0:
        raise ValueError(f"window must be an odd int >= 3 (or None), got {window!r}.")
    if not diverge_factor > 1:
        raise ValueError(f"diverge_factor must be above 1, got {diverge_factor!r}.")
    rates = np.geomspace(start_lr, end_lr, n_steps)
    probe = _RisingRate(rates, window, diverge_factor)
    # The test drives the rate up until the loss explodes: that the probe's fit diverged
    # or did not converge is what it measures, not something to warn about.
    with deferred_warnings():
        clone(net).set_params(
            callbacks=[("lr_range_test", probe)], max_epochs=n_steps, early_stopping=False,
            verbose=0, on_divergence="warn",
        ).fit(X, y)  # fmt: skip
    losses = np.array(probe.losses_)
    finite = np.isfinite(losses).sum()  # the test stops at the first loss that is not
    smoothed = np.full(len(losses), np.nan)
    smoothed[:finite] = _running_median(losses[:finite], window)
    if finite == 0:
        raise FloatingPointError(
            f"The loss was not finite at the first rate, {start_lr:g}: lower start_lr, scale "
            "the inputs, or check the targets."
        )
    lowest = int(np.nanargmin(smoothed))
    if lowest == 0 or lowest == n_steps - 1:
        where, fix = ("first", "lower start_lr") if lowest == 0 else ("last", "raise end_lr")
        warn_user(
            f"The smoothed loss was lowest at the {where} rate ({rates[lowest]:.3g}), so the "
            f"range may not contain the best rate: {fix}.",
            UserWarning,
        )
    return LRRangeTest(
        lrs=rates[: len(losses)], losses=losses, smoothed_losses=smoothed,
        suggested_lr=float(rates[lowest] / 10), rule=RULE,
    )  # fmt: skip
