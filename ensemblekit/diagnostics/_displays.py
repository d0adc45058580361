"""Training curves drawn: loss per epoch of a net or of every member of an ensemble, and the
monitors' per-layer statistics over epochs."""

from __future__ import annotations

import numpy as np

from ..utils._optional import axes_for, import_optional
from ..utils._pipeline import final_step


def _integer_epochs(ax) -> None:
    ticker = import_optional("matplotlib.ticker", "Plotting")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))


# What each monitor records, how to read it, and where a healthy net lies.
_MONITORED = {
    "grad_norm": ("GradientMonitor", "gradient norm", None),
    "update_ratio": ("UpdateRatioMonitor", "update norm / weight norm", 1e-3),
    "dead_units": ("ActivationMonitor", "share of dead units", None),
    "saturated_units": ("ActivationMonitor", "share of saturated outputs", None),
}


def _trained(estimator) -> bool:
    return bool(getattr(estimator, "history_", None))


def _trained_nets(estimator) -> list:
    """The net (a Pipeline's last step), or every member of an ensemble, with a history."""
    estimator, _ = final_step(estimator)
    if _trained(estimator):
        return [estimator]
    members = [final_step(member)[0] for member in getattr(estimator, "estimators_", [])]
    nets = [member for member in members if _trained(member)]
    if not nets:
        raise ValueError(
            f"{type(estimator).__name__} has no training history: pass a fitted ensemblekit "
            "net, or a fitted ensemble of them (or a Pipeline ending in one)."
        )
    return nets


def _same_curves(a: tuple, b: tuple) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b, strict=True))


def _column(net, key: str) -> np.ndarray:
    """One history key per epoch, NaN where an epoch did not record it."""
    return np.array([row.get(key, np.nan) for row in net.history], dtype=float)


class LossCurveDisplay:
    """Training and validation loss per epoch, of one net or of every member of an
    ensemble on one figure (the snapshots of one run, which share its history, once).

    The gap between the two curves shows overfitting: the validation loss turns up while the
    training loss goes on down. Validation losses exist when the nets held rows out
    (``early_stopping=True``, or skorch's ``train_split``). Needs matplotlib (the ``plot``
    extra).

    Parameters
    ----------
    train : list of ndarray
        Per net, its training loss per epoch.
    valid : list of ndarray
        Per net, its validation loss per epoch (all NaN without a validation split).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    MonitorDisplay : the training monitors' per-layer statistics over epochs.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.diagnostics import LossCurveDisplay
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(max_epochs=5, early_stopping=True, random_state=0)
    >>> bagging = BaggingClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    >>> display = LossCurveDisplay.from_estimator(bagging)
    >>> len(display.train)
    3
    """

    def __init__(self, train: list[np.ndarray], valid: list[np.ndarray]):
        self.train, self.valid = train, valid

    @classmethod
    def from_estimator(cls, estimator, *, ax=None) -> LossCurveDisplay:
        """Read the losses from a fitted net's history (or its members') and draw them.

        Parameters
        ----------
        estimator : fitted net, ensemble of nets, or Pipeline ending in one
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : LossCurveDisplay
        """
        curves = []
        for net in _trained_nets(estimator):
            pair = (_column(net, "train_loss"), _column(net, "valid_loss"))
            # Snapshots of one run share its history: draw the run once.
            if not any(_same_curves(pair, seen) for seen in curves):
                curves.append(pair)
        return cls([t for t, _ in curves], [v for _, v in curves]).plot(ax=ax)

    def plot(self, ax=None) -> LossCurveDisplay:
        """Draw on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        self
        """
        ax = axes_for(ax)
        many = len(self.train) > 1
        style = {"linewidth": 1.0, "alpha": 0.6} if many else {"linewidth": 1.8}
        each = f" (each of {len(self.train)} members)" if many else ""
        for curves, color, linestyle, name in (
            (self.train, "C0", "-", "training"),
            (self.valid, "C1", "--", "validation"),
        ):
            label = f"{name}{each}"
            for losses in curves:
                if np.all(np.isnan(losses)):
                    continue
                epochs = np.arange(1, len(losses) + 1)
                ax.plot(epochs, losses, color=color, linestyle=linestyle, label=label, **style)
                label = None  # one legend entry per kind
        ax.set(xlabel="epoch", ylabel="loss (mean over the epoch's rows)")
        _integer_epochs(ax)
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self


class MonitorDisplay:
    """One training monitor's per-layer statistic over epochs, one line per layer.

    Gradient norms and update ratios are drawn on a log axis; the update ratio with CS231n's
    rule of thumb, about ``1e-3``. Shares of dead or saturated units are drawn in [0, 1].
    Needs matplotlib (the ``plot`` extra).

    Parameters
    ----------
    values : dict of str to ndarray
        Per layer, the statistic per epoch (NaN where an epoch has no value).
    key : str
        The history key: ``"grad_norm"``, ``"update_ratio"``, ``"dead_units"`` or
        ``"saturated_units"`` (or a key of a monitor of your own that records
        ``{layer: value}``).

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D

    See Also
    --------
    GradientMonitor, UpdateRatioMonitor, ActivationMonitor : record the statistics.
    LossCurveDisplay : the losses per epoch.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.diagnostics import MonitorDisplay, UpdateRatioMonitor
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(callbacks=[UpdateRatioMonitor()], max_epochs=3,
    ...                           random_state=0).fit(X, y)
    >>> display = MonitorDisplay.from_estimator(net, "update_ratio")
    >>> sorted(display.lines_)
    ['layers.0.weight', 'layers.2.weight']
    """

    def __init__(self, values: dict[str, np.ndarray], key: str):
        self.values, self.key = values, key

    @classmethod
    def from_estimator(cls, net, key: str, *, ax=None) -> MonitorDisplay:
        """Read ``key`` from a fitted net's history and draw it.

        Parameters
        ----------
        net : fitted ensemblekit net, or a Pipeline ending in one
            For an ensemble, pass one member: ``ensemble.estimators_[0]``.
        key : str
            The history key a monitor records (see the class description).
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : MonitorDisplay
        """
        nets = _trained_nets(net)
        if len(nets) > 1 or nets[0] is not final_step(net)[0]:
            raise ValueError(
                "MonitorDisplay draws one net's monitors: pass one member of the ensemble, "
                "for example ensemble.estimators_[0]."
            )
        rows = [row.get(key) for row in nets[0].history]
        if all(row is None for row in rows):
            monitor = _MONITORED.get(key, ("a monitor that records it",))[0]
            raise ValueError(
                f"The net's history has no {key!r}: add {monitor} to the net's callbacks "
                f"(callbacks=[{monitor}()] for the monitors of ensemblekit.diagnostics). "
                f"Monitored keys: {sorted(_MONITORED)}."
            )
        if not all(row is None or isinstance(row, dict) for row in rows):
            raise ValueError(f"The history's {key!r} is not a {{layer: value}} record per epoch.")
        layers = list(dict.fromkeys(layer for row in rows if row for layer in row))
        values = {
            layer: np.array([(row or {}).get(layer, np.nan) for row in rows], dtype=float)
            for layer in layers
        }
        return cls(values, key).plot(ax=ax)

    def plot(self, ax=None) -> MonitorDisplay:
        """Draw on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        self
        """
        ax = axes_for(ax)
        _, ylabel, healthy = _MONITORED.get(self.key, (None, self.key, None))
        self.lines_ = {}
        for layer, values in self.values.items():
            epochs = np.arange(1, len(values) + 1)
            (self.lines_[layer],) = ax.plot(epochs, values, marker=".", label=layer)
        if self.key in ("grad_norm", "update_ratio"):
            ax.set_yscale("log")
        elif self.key in ("dead_units", "saturated_units"):
            ax.set_ylim(-0.02, 1.02)
        if healthy is not None:
            ax.axhline(healthy, color="0.5", linestyle="--", linewidth=1,
                       label=f"about {healthy:g} (CS231n)")  # fmt: skip
        ax.set(xlabel="epoch", ylabel=ylabel)
        _integer_epochs(ax)
        ax.legend(fontsize="small")
        self.ax_, self.figure_ = ax, ax.figure
        return self
