"""Plot of a model comparison: fold scores and intervals, or differences to the best."""

from __future__ import annotations

import numpy as np

from ..utils._optional import axes_for
from ._compare import compare_models
from ._comparison_table import ComparisonTable

_KINDS = ("scores", "difference")


class ComparisonDisplay:
    """A :func:`compare_models` table drawn, in the manner of scikit-learn's displays.

    ``kind="scores"`` shows every fold's score as a dot and each model's mean with its
    interval; ``kind="difference"`` shows each model's difference to the best with its
    interval, a line at zero, and the adjusted p-value, models the best is significantly
    ahead of in colour. Models run from the best at the top. Needs matplotlib (the ``plot``
    extra).

    Parameters
    ----------
    table : ComparisonTable
        The output of :func:`compare_models` for one scorer.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    compare_models : computes the table.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import ComparisonDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> display = ComparisonDisplay.from_estimators(
    ...     {"tree": DecisionTreeClassifier(random_state=0), "dummy": DummyClassifier()},
    ...     X, y, cv=5, kind="difference")
    >>> print(display.ax_.get_xlabel())
    difference in score (accuracy)
    to 'tree', 95% interval
    """

    def __init__(self, table: ComparisonTable):
        if not isinstance(table, ComparisonTable):
            raise TypeError(
                "table must be a ComparisonTable, the output of compare_models for one "
                f"scorer; got {type(table).__name__}. With several scorers, pick one: "
                "tables['accuracy'], or call tables.plot()."
            )
        self.table = table

    def plot(self, ax=None, *, kind: str = "scores") -> ComparisonDisplay:
        """Draw the table on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        kind : {"scores", "difference"}, default="scores"
            The fold scores with each mean's interval, or the differences to the best.

        Returns
        -------
        self
        """
        if kind not in _KINDS:
            raise ValueError(f"kind must be 'scores' or 'difference', got {kind!r}.")
        table = self.table
        ax = axes_for(ax, figsize=(6.4, 0.5 * len(table) + 1.5), constrained_layout=True)
        y = np.arange(len(table))[::-1]  # the best on top
        level = f"{table.confidence_level:.0%}"
        if kind == "scores":
            self._scores(ax, y)
            # Two lines: side by side with the differences, one line each would meet.
            ax.set_xlabel(
                f"{table.scoring} per fold ({len(table[0].scores)} folds)\n"
                f"bar: {level} interval of the mean"
            )
        else:
            self._differences(ax, y)
            ax.set_xlabel(
                f"difference in {table.scoring}\nto {table.best.name!r}, {level} interval"
            )
        ax.set_yticks(y, [row.name for row in table])
        ax.set_ylim(-0.6, len(table) - 0.4)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    def _scores(self, ax, y) -> None:
        for position, row in zip(y, self.table, strict=True):
            jitter = np.linspace(-0.18, 0.18, len(row.scores))
            ax.scatter(row.scores, position + jitter, s=12, color="0.6", zorder=2)
            ax.errorbar(
                row.mean, position, xerr=[[row.mean - row.ci_low], [row.ci_high - row.mean]],
                fmt="D", color="black", capsize=4, zorder=3,
            )  # fmt: skip

    def _differences(self, ax, y) -> None:
        ax.axvline(0.0, color="0.5", linestyle="--", linewidth=1)
        p_name = "p" if self.table.correction is None else f"p ({self.table.correction})"
        for position, row in zip(y, self.table, strict=True):
            if row is self.table.best:
                ax.plot(0.0, position, "D", color="black")
                ax.annotate(
                    "best", (1.01, position), xycoords=("axes fraction", "data"), va="center"
                )
                continue
            color = "C3" if row.significant else "0.45"
            ax.errorbar(
                row.diff, position,
                xerr=[[row.diff - row.diff_low], [row.diff_high - row.diff]],
                fmt="o", color=color, capsize=4,
            )  # fmt: skip
            ax.annotate(
                f"{p_name} = {row.pvalue_adjusted:.2g}",
                (1.01, position), xycoords=("axes fraction", "data"), va="center", color=color,
            )  # fmt: skip

    @classmethod
    def from_estimators(
        cls, estimators, X, y, *, ax=None, kind: str = "scores", **compare_params
    ) -> ComparisonDisplay:
        """Run :func:`compare_models` with one scorer and draw its table.

        Parameters
        ----------
        estimators : dict of str to estimator, or list of (str, estimator) pairs
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        ax : matplotlib Axes, default=None
        kind : {"scores", "difference"}, default="scores"
        **compare_params
            Passed to :func:`compare_models` (``cv``, ``scoring``, ``n_jobs``...).

        Returns
        -------
        display : ComparisonDisplay
        """
        if kind not in _KINDS:  # before any fit
            raise ValueError(f"kind must be 'scores' or 'difference', got {kind!r}.")
        return cls(compare_models(estimators, X, y, **compare_params)).plot(ax=ax, kind=kind)
