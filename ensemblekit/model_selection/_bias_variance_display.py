"""BiasVarianceDisplay: expected loss, bias and variance against a complexity parameter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..utils._optional import import_optional
from ._bias_variance import BiasVarianceResult, bias_variance_curve


class BiasVarianceDisplay:
    """Plot of a bias-variance curve, in the manner of scikit-learn's displays.

    Build it with :meth:`from_estimator` (computes the curve) or :meth:`from_result` (draws
    results you have), or directly and call :meth:`plot`. Needs matplotlib (the ``plot``
    extra).

    Parameters
    ----------
    param_name : str
    param_values : sequence
        The parameter values, in order; non-numeric values (tuples of hidden units) are
        placed at equal steps and labelled.
    expected_loss, bias, variance : array-like of shape (n_values,)
    loss : str
        Name of the loss, for the axis label.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.model_selection import BiasVarianceDisplay
    >>> X, y = make_friedman1(n_samples=200, noise=1.0, random_state=0)
    >>> display = BiasVarianceDisplay.from_estimator(
    ...     DecisionTreeRegressor(random_state=0), X[:150], y[:150], X[150:], y[150:],
    ...     param_name="max_depth", param_range=[1, 2, 4, 8], loss="mse", n_rounds=5,
    ...     random_state=0)
    >>> sorted(display.lines_)
    ['bias', 'expected loss', 'variance']
    """

    def __init__(self, *, param_name, param_values, expected_loss, bias, variance, loss):
        self.param_name = param_name
        self.param_values = list(param_values)
        self.expected_loss = np.asarray(expected_loss, dtype=float)
        self.bias = np.asarray(bias, dtype=float)
        self.variance = np.asarray(variance, dtype=float)
        self.loss = loss

    def plot(self, ax=None, *, log_x: bool | None = None) -> BiasVarianceDisplay:
        """Draw the three curves on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        log_x : bool or None, default=None
            Logarithmic x axis; None picks it for positive numbers spanning over 2 decades.

        Returns
        -------
        self
        """
        plt = import_optional("matplotlib.pyplot", "Plotting")

        if ax is None:
            _, ax = plt.subplots()
        numeric = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.param_values
        )
        x = (
            np.asarray(self.param_values, dtype=float)
            if numeric
            else np.arange(len(self.param_values))
        )
        # Squared and log-loss bias include the noise of y; the legend says so.
        bias_label = {"mse": "bias² + noise", "log_loss": "bias + noise"}.get(self.loss, "bias")
        self.lines_ = {}
        for key, label, values in (
            ("expected loss", "expected loss", self.expected_loss),
            ("bias", bias_label, self.bias),
            ("variance", "variance", self.variance),
        ):
            (self.lines_[key],) = ax.plot(x, values, marker="o", label=label)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in self.param_values])
        if log_x is None:
            log_x = numeric and x.min() > 0 and x.max() / x.min() > 100
        if log_x:
            ax.set_xscale("log")
        ax.set(xlabel=self.param_name, ylabel=f"{self.loss} loss")
        ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_result(
        cls, results: Sequence[BiasVarianceResult], *, param_name: str | None = None, ax=None
    ) -> BiasVarianceDisplay:
        """Plot results of :func:`bias_variance_curve` (or any list with ``params`` set).

        Parameters
        ----------
        results : sequence of BiasVarianceResult
        param_name : str or None, default=None
            Which parameter to put on the x axis; None takes the one the results share.
        ax : matplotlib Axes, default=None

        Returns
        -------
        display : BiasVarianceDisplay
        """
        results = list(results)
        if not results:
            raise ValueError("results is empty; pass the output of bias_variance_curve.")
        if param_name is None:
            names = {name for r in results for name in r.params}
            if len(names) != 1:
                raise ValueError(
                    f"The results vary {sorted(names) or 'no parameter'}; name the x axis with "
                    "param_name=..."
                )
            param_name = names.pop()
        missing = [i for i, r in enumerate(results) if param_name not in r.params]
        if missing:
            raise ValueError(f"Results {missing} have no value for {param_name!r} in .params.")
        return cls(
            param_name=param_name,
            param_values=[r.params[param_name] for r in results],
            expected_loss=[r.expected_loss for r in results],
            bias=[r.bias for r in results],
            variance=[r.variance for r in results],
            loss=results[0].loss,
        ).plot(ax=ax)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X_train,
        y_train,
        X_test,
        y_test,
        *,
        param_name: str,
        param_range: Sequence,
        ax=None,
        **decomp_params,
    ) -> BiasVarianceDisplay:
        """Compute :func:`bias_variance_curve` and plot it.

        Parameters
        ----------
        estimator : estimator
        X_train, y_train, X_test, y_test : array-like
        param_name : str
        param_range : sequence
        ax : matplotlib Axes, default=None
        **decomp_params
            Keyword arguments of :func:`bias_variance_decomp`.

        Returns
        -------
        display : BiasVarianceDisplay
        """
        results = bias_variance_curve(
            estimator, X_train, y_train, X_test, y_test,
            param_name=param_name, param_range=param_range, **decomp_params,
        )  # fmt: skip
        return cls.from_result(results, param_name=param_name, ax=ax)
