"""Coverage against the level asked for, and the price in width or set size."""

from __future__ import annotations

import numpy as np

from ..utils._optional import axes_for
from ._intervals import coverage_score, mean_set_size, mean_width_score, set_coverage_score
from ._reliability import _wilson

#: The levels drawn when none are given.
LEVELS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


class CoverageDisplay:
    """Coverage against nominal, with a 95% binomial interval, and the mean width (intervals)
    or set size (sets) at each level, for one or more conformal models.

    A point on the diagonal covers as asked; below it, the model promises more than it
    holds. The bars are the Wilson interval of a share measured on ``n`` rows: a point whose
    bar crosses the diagonal is within the noise of that many rows.

    Parameters
    ----------
    curves : dict
        Name to ``(levels, coverage, size)``, arrays of one value per level.
    n_rows : int
        The rows each coverage was measured on.
    size_label : str
        ``"mean width"`` or ``"mean set size"``.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        Coverage on the left, width or size on the right.
    figure_ : matplotlib Figure

    See Also
    --------
    ensemblekit.conformal.ConformalRegressor, ensemblekit.conformal.ConformalClassifier
    ReliabilityDisplay : whether probabilities are calibrated.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> from ensemblekit.conformal import ConformalRegressor
    >>> from ensemblekit.metrics import CoverageDisplay
    >>> X, y = make_regression(600, 4, noise=10, random_state=0)
    >>> model = ConformalRegressor(LinearRegression(), random_state=0).fit(X[:400], y[:400])
    >>> display = CoverageDisplay.from_estimator(model, X[400:], y[400:])
    >>> display.axes_.shape
    (2,)
    """

    def __init__(self, curves: dict, *, n_rows: int, size_label: str):
        self.curves, self.n_rows, self.size_label = curves, n_rows, size_label

    def plot(self, axes=None) -> CoverageDisplay:
        """Draw coverage and size against the level.

        Parameters
        ----------
        axes : sequence of two matplotlib Axes, default=None
            A new figure when None.

        Returns
        -------
        self
        """
        if axes is None:
            axes = axes_for(None, ncols=2, figsize=(9, 4), constrained_layout=True)
        left, right = axes
        lowest = min(levels.min() for levels, _, _ in self.curves.values())
        left.plot([lowest, 1], [lowest, 1], linestyle="--", color="0.5", label="as promised")
        for name, (levels, coverage, size) in self.curves.items():
            low, high = _wilson(coverage, np.full(len(coverage), self.n_rows))
            bars = np.stack([coverage - low, high - coverage])
            line = left.errorbar(levels, coverage, yerr=bars, marker="o", capsize=3, label=name)
            right.plot(levels, size, marker="o", color=line[0].get_color(), label=name)
        left.set(xlabel="confidence level", ylabel=f"coverage ({self.n_rows} rows)")
        left.set_title("Coverage against the level asked for")
        right.set(xlabel="confidence level", ylabel=self.size_label)
        right.set_title(f"What it costs: {self.size_label}")
        left.legend(loc="lower right", frameon=False)
        self.axes_, self.figure_ = np.asarray(axes), left.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, confidence_level=LEVELS, name=None, axes=None):
        """Measure a fitted conformal model at each level (no refit) and draw it.

        Parameters
        ----------
        estimator : ConformalRegressor or ConformalClassifier
            Fitted.
        X : array-like of shape (n_samples, n_features)
            Rows it did not see.
        y : array-like of shape (n_samples,)
        confidence_level : sequence of float, default=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
        name : str, default=None
            The legend's name; the class and method when None.
        axes : sequence of two matplotlib Axes, default=None

        Returns
        -------
        display : CoverageDisplay
        """
        return cls.from_estimators(
            {name or f"{type(estimator).__name__}({estimator.method})": estimator}, X, y,
            confidence_level=confidence_level, axes=axes,
        )  # fmt: skip

    @classmethod
    def from_estimators(cls, estimators: dict, X, y, *, confidence_level=LEVELS, axes=None):
        """As :meth:`from_estimator`, for several models by name.

        Parameters
        ----------
        estimators : dict
            Name to fitted ConformalRegressor or ConformalClassifier.
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        confidence_level : sequence of float, default=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
        axes : sequence of two matplotlib Axes, default=None

        Returns
        -------
        display : CoverageDisplay
        """
        levels = np.sort(np.atleast_1d(np.asarray(confidence_level, dtype=float)))
        curves, label = {}, "mean width"
        for name, model in estimators.items():
            if hasattr(model, "predict_set"):
                sets = model.predict_set(X, confidence_level=list(levels))
                coverage = set_coverage_score(y, sets, classes=model.classes_)
                size, label = mean_set_size(y, sets), "mean set size"
            else:
                intervals = model.predict_interval(X, confidence_level=list(levels))
                coverage, size = coverage_score(y, intervals), mean_width_score(y, intervals)
            curves[name] = (levels, np.asarray(coverage), np.asarray(size))
        return cls(curves, n_rows=len(y), size_label=label).plot(axes)
