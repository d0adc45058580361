"""Reliability diagrams of several classifiers on one axes, for any number of classes."""

from __future__ import annotations

import numpy as np

from ..utils._optional import axes_for
from ._calibration import _STRATEGIES, expected_calibration_error, reliability_bins, top_label

#: Bins with fewer rows are drawn hollow and left out of the line.
MIN_ROWS = 10


def _wilson(accuracy: np.ndarray, count: np.ndarray, z: float = 1.959964) -> tuple:
    """The Wilson score interval of each bin's accuracy (95% by default)."""
    n = np.maximum(count, 1).astype(float)
    centre = (accuracy + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(accuracy * (1 - accuracy) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


class ReliabilityDisplay:
    """Top-label reliability diagram: accuracy against confidence, per bin, per model.

    For each model, rows are binned by their confidence ``max_k p_k``; each bin's point is
    its mean confidence and the share of its rows predicted right. A calibrated model lies
    on the diagonal; below it, a model is overconfident. Each point's area is its bin's
    share of the rows and its bar the 95% (Wilson) interval of the bin's accuracy; the line
    joins the bins of at least 10 rows, and fewer are drawn hollow, since they sit off the
    diagonal by chance alone. The legend gives each model's expected calibration error on
    the same bins. scikit-learn's ``CalibrationDisplay``
    draws the same for the positive class of a binary problem; this one takes any number
    of classes. Needs matplotlib (the ``plot`` extra).

    Parameters
    ----------
    curves : dict of str to tuple of ndarray
        Per model: ``(confidence, accuracy, count)`` of its non-empty bins.
    ece : dict of str to float
        Per model: its expected calibration error on these bins.
    n_bins : int
    strategy : {"uniform", "quantile"}

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        Per model, the line through its bins of at least 10 rows.

    See Also
    --------
    expected_calibration_error : the number the diagram draws.
    sklearn.calibration.CalibrationDisplay : the binary diagram.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.metrics import ReliabilityDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> model = LogisticRegression(max_iter=500).fit(X[::2], y[::2])
    >>> display = ReliabilityDisplay.from_estimators({"logistic": model}, X[1::2], y[1::2],
    ...                                              n_bins=5)
    >>> list(display.lines_)
    ['logistic']
    """

    def __init__(self, curves: dict, ece: dict, *, n_bins: int, strategy: str):
        self.curves, self.ece, self.n_bins, self.strategy = curves, ece, n_bins, strategy

    def plot(self, ax=None) -> ReliabilityDisplay:
        """Draw every model's curve and the diagonal on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        self
        """
        ax = axes_for(ax, figsize=(5.5, 5.5), constrained_layout=True)
        from matplotlib.colors import to_rgba  # installed, as axes_for has checked

        ax.plot([0, 1], [0, 1], linestyle="--", color="0.5", label="calibrated")
        self.lines_ = {}
        for name, (confidence, accuracy, count) in self.curves.items():
            count = np.asarray(count)
            # A bin of a handful of rows sits far off the diagonal by chance alone: the
            # line joins the bins of at least MIN_ROWS rows, and every bin shows its 95%
            # interval.
            full = count >= MIN_ROWS
            label = f"{name} (ECE {self.ece[name]:.3f})"
            (line,) = ax.plot(confidence[full], accuracy[full], label=label, linewidth=2)
            color = line.get_color()
            low, high = _wilson(accuracy, count)
            bars = np.maximum(0, [accuracy - low, high - accuracy])
            ax.errorbar(confidence, accuracy, yerr=bars, fmt="none",
                        ecolor=color, alpha=0.5, linewidth=1, capsize=2)  # fmt: skip
            # Each point's area shows how many rows its bin holds; a hollow one holds few.
            share = count / count.sum()
            faces = np.where(full[:, None], to_rgba(color), (1.0, 1.0, 1.0, 1.0))
            ax.scatter(confidence, accuracy, s=25 + 900 * share, facecolors=faces,
                       edgecolors=color, linewidths=1.5, zorder=3)  # fmt: skip
            self.lines_[name] = line
        # The axes start where the points do: a top-label confidence is at least one over
        # the number of classes (0.5 for two), and confident models crowd the top right.
        # Both axes share a scale, so the diagonal stays at 45 degrees.
        x_low = min(c.min() for c, _, _ in self.curves.values())
        y_low = min(a.min() for _, a, _ in self.curves.values())
        x_start = max(0.0, np.floor((x_low - 0.05) * 10) / 10)
        y_start = min(x_start, max(0.0, np.floor((y_low - 0.05) * 10) / 10))
        ax.set(
            xlabel="confidence (mean of the bin's top-class probability)",
            ylabel="accuracy in the bin",
            xlim=(x_start, 1.01), ylim=(y_start, 1.01),
        )  # fmt: skip
        ax.set_aspect("equal", adjustable="box")
        bins = "equal-width" if self.strategy == "uniform" else "equal-mass"
        # Off the curves: top left when the points lie mostly under the diagonal
        # (overconfident), bottom right when over it.
        over = np.mean([np.mean(a - c) for c, a, _ in self.curves.values()]) > 0
        ax.legend(
            title=f"{self.n_bins} {bins} bins; a point's area is its\nshare of the rows, "
            f"hollow under {MIN_ROWS} rows;\nbars: 95% intervals",
            loc="lower right" if over else "upper left", fontsize="small",
            title_fontsize="small",
        )  # fmt: skip
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_predictions(
        cls, y_true, probabilities, *, n_bins: int = 15, strategy: str = "uniform",
        labels=None, name: str | None = None, ax=None,
    ) -> ReliabilityDisplay:  # fmt: skip
        """Draw the diagram from predicted probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
        probabilities : array-like of shape (n_samples, n_classes), or dict of str to such
            One model's ``predict_proba`` on the rows of ``y_true`` (as scikit-learn's
            ``CalibrationDisplay.from_predictions`` takes), or several models', by name.
        n_bins : int, default=15
        strategy : {"uniform", "quantile"}, default="uniform"
        labels : array-like or None, default=None
            As in :func:`expected_calibration_error`.
        name : str or None, default=None
            The legend's name for one model's probabilities ("model" when None); not
            used with a dict, whose keys are the names.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : ReliabilityDisplay
        """
        if not isinstance(probabilities, dict):
            if isinstance(probabilities, (str, bytes)) or not hasattr(probabilities, "__len__"):
                raise TypeError(
                    "probabilities must be one model's predicted probabilities (an array of "
                    "shape (n_samples, n_classes)) or a dict of model name: probabilities, "
                    f"got {type(probabilities).__name__}."
                )
            probabilities = {name or "model": probabilities}
        if not probabilities:
            raise TypeError(
                "probabilities must be a non-empty dict of model name: predicted "
                "probabilities, got an empty dict."
            )
        if strategy not in _STRATEGIES:
            raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}.")
        curves, ece = {}, {}
        for name, proba in probabilities.items():
            confidence, right = top_label(y_true, proba, labels)
            total, hits, scores = reliability_bins(
                confidence, right, np.ones(len(confidence)), n_bins, strategy
            )
            curves[name] = (scores / total, hits / total, total)
            ece[name] = expected_calibration_error(
                y_true, proba, n_bins=n_bins, strategy=strategy, labels=labels
            )
        return cls(curves, ece, n_bins=n_bins, strategy=strategy).plot(ax=ax)

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, n_bins: int = 15, strategy: str = "uniform",
        name: str | None = None, ax=None,
    ) -> ReliabilityDisplay:  # fmt: skip
        """Draw the diagram of one fitted classifier on ``X, y``, as scikit-learn's
        ``CalibrationDisplay.from_estimator`` does for a binary one.

        Parameters
        ----------
        estimator : fitted classifier
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        n_bins : int, default=15
        strategy : {"uniform", "quantile"}, default="uniform"
        name : str or None, default=None
            The legend's name; the estimator's class name when None.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : ReliabilityDisplay
        """
        if isinstance(estimator, dict):
            raise TypeError(
                "from_estimator takes one fitted classifier; for a dict of them use "
                "ReliabilityDisplay.from_estimators."
            )
        name = name or type(estimator).__name__
        return cls.from_estimators({name: estimator}, X, y, n_bins=n_bins, strategy=strategy, ax=ax)

    @classmethod
    def from_estimators(
        cls, estimators: dict, X, y, *, n_bins: int = 15, strategy: str = "uniform", ax=None
    ) -> ReliabilityDisplay:
        """Draw the diagram of fitted classifiers on ``X, y``.

        Parameters
        ----------
        estimators : dict of str to fitted classifier
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        n_bins : int, default=15
        strategy : {"uniform", "quantile"}, default="uniform"
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : ReliabilityDisplay
        """
        if not isinstance(estimators, dict) or not estimators:
            raise TypeError(
                "estimators must be a non-empty dict of model name: fitted classifier, got "
                f"{type(estimators).__name__}."
            )
        first = next(iter(estimators.values()))
        probabilities = {name: est.predict_proba(X) for name, est in estimators.items()}
        return cls.from_predictions(
            y, probabilities, n_bins=n_bins, strategy=strategy, labels=first.classes_, ax=ax
        )
