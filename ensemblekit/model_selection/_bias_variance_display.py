"""BiasVarianceDisplay: expected loss, bias and variance against a complexity parameter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..utils._optional import axes_for
from ._bias_variance import BiasVarianceResult, bias_variance_curve

_LOSS_WORDS = {"mse": "squared error", "log_loss": "log loss", "0-1": "0-1 loss (error rate)"}
# Squared and log-loss bias include the noise of y; the labels say so.
_BIAS_WORDS = {"mse": "bias² + noise", "log_loss": "bias + noise", "0-1": "bias"}
_IDENTITY = {
    "mse": "expected loss = (bias² + noise) + variance",
    "log_loss": "expected loss = (bias + noise) + variance",
    "0-1": "expected loss = bias + net variance",
}


def _words(param_name: str) -> str:
    """``estimator__module__hidden_units`` -> ``hidden units``."""
    return param_name.rsplit("__", 1)[-1].replace("_", " ")


class BiasVarianceDisplay:
    """Plot of a bias-variance curve, in the manner of scikit-learn's displays.

    The curves drawn add up to the expected loss at every value: bias and variance for
    squared error and log loss (their bias includes the noise of y), bias and net variance
    for 0-1 loss, where variance on points whose main prediction is wrong lowers the loss.
    ``plot(split_variance=True)`` also draws the net variance's two parts for 0-1 loss.
    Build it with :meth:`from_estimator` (computes the curve) or :meth:`from_result`
    (draws results you have), or directly and call :meth:`plot`. Needs matplotlib (the
    ``plot`` extra).

    Parameters
    ----------
    param_name : str
        The parameter on the x axis; the axis label is its last part in words
        (``estimator__module__hidden_units`` reads "hidden units").
    param_values : sequence
        The parameter values, in order; non-numeric values (tuples of hidden units) are
        placed at equal steps and labelled.
    expected_loss, bias : array-like of shape (n_values,)
    variance : array-like of shape (n_values,)
        The variance term that adds up: ``expected_loss - bias`` (the net variance for 0-1
        loss).
    loss : {"0-1", "mse", "log_loss"}
    variance_unbiased, variance_biased_weighted : array-like of shape (n_values,) or None, \
default=None
        0-1 loss only: the two parts of the net variance, ``variance = variance_unbiased -
        variance_biased_weighted`` (see :class:`BiasVarianceResult`), for
        ``plot(split_variance=True)``.

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    lines_ : dict of str to matplotlib Line2D
        "expected loss", "bias", "variance", and with ``split_variance=True`` also
        "variance unbiased" and "variance biased".

    See Also
    --------
    bias_variance_curve : the results drawn.
    BiasVarianceResult : the terms and their identities.

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
    >>> sorted(display.lines_), display.ax_.get_xlabel(), display.ax_.get_ylabel()
    (['bias', 'expected loss', 'variance'], 'max depth', 'squared error')
    """

    def __init__(
        self, *, param_name, param_values, expected_loss, bias, variance, loss,
        variance_unbiased=None, variance_biased_weighted=None,
    ):  # fmt: skip
        self.param_name = param_name
        self.param_values = list(param_values)
        self.expected_loss = np.asarray(expected_loss, dtype=float)
        self.bias = np.asarray(bias, dtype=float)
        self.variance = np.asarray(variance, dtype=float)
        self.loss = loss
        self.variance_unbiased = _optional_array(variance_unbiased)
        self.variance_biased_weighted = _optional_array(variance_biased_weighted)

    def plot(
        self, ax=None, *, log_x: bool | None = None, split_variance: bool = False
    ) -> BiasVarianceDisplay:
        """Draw the curves on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        log_x : bool or None, default=None
            Logarithmic x axis; None picks it for positive numbers spanning over 2 decades.
        split_variance : bool, default=False
            0-1 loss only: also draw the variance where the main prediction is right (it
            adds to the loss) and the weighted variance where it is wrong (it subtracts).

        Returns
        -------
        self
        """
        if split_variance and (self.loss != "0-1" or self.variance_unbiased is None):
            raise ValueError(
                "split_variance=True needs a 0-1 loss decomposition with variance_unbiased "
                f"and variance_biased_weighted; this display has loss={self.loss!r}"
                + ("." if self.loss != "0-1" else " without them: build it with from_result.")
            )
        ax = axes_for(ax)
        numeric = all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.param_values
        )
        x = (
            np.asarray(self.param_values, dtype=float)
            if numeric
            else np.arange(len(self.param_values))
        )
        curves = [
            ("expected loss", "expected loss", self.expected_loss, "-"),
            ("bias", _BIAS_WORDS.get(self.loss, "bias"), self.bias, "-"),
            ("variance", "net variance" if self.loss == "0-1" else "variance", self.variance, "-"),
        ]
        if split_variance:
            curves += [
                ("variance unbiased", "variance where right (adds)", self.variance_unbiased,
                 "--"),
                ("variance biased", "variance where wrong, weighted (subtracts)",
                 self.variance_biased_weighted, "--"),
            ]  # fmt: skip
        self.lines_ = {}
        for key, label, values, style in curves:
            (self.lines_[key],) = ax.plot(x, values, style, marker="o", label=label)
        if not numeric:
            ax.set_xticks(x, [str(v) for v in self.param_values])
        if log_x is None:
            log_x = numeric and x.min() > 0 and x.max() / x.min() > 100
        if log_x:
            ax.set_xscale("log")
        ax.set(xlabel=_words(self.param_name), ylabel=_LOSS_WORDS.get(self.loss, self.loss))
        title = _IDENTITY.get(self.loss)
        if split_variance:
            title += "\nnet variance = right - wrong, weighted"
        ax.legend(title=title)
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_result(
        cls,
        results: Sequence[BiasVarianceResult],
        *,
        param_name: str | None = None,
        ax=None,
        split_variance: bool = False,
    ) -> BiasVarianceDisplay:
        """Plot results of :func:`bias_variance_curve` (or any list with ``params`` set).

        Parameters
        ----------
        results : sequence of BiasVarianceResult
        param_name : str or None, default=None
            Which parameter to put on the x axis; None takes the one the results share.
        ax : matplotlib Axes, default=None
        split_variance : bool, default=False
            See :meth:`plot`.

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
        losses = {r.loss for r in results}
        if len(losses) != 1:
            raise ValueError(f"The results mix losses {sorted(losses)}; draw one loss at a time.")
        zero_one = results[0].loss == "0-1"
        return cls(
            param_name=param_name,
            param_values=[r.params[param_name] for r in results],
            expected_loss=[r.expected_loss for r in results],
            bias=[r.bias for r in results],
            variance=[r.net_variance if zero_one else r.variance for r in results],
            loss=results[0].loss,
            variance_unbiased=[r.variance_unbiased for r in results] if zero_one else None,
            variance_biased_weighted=(
                [r.variance_biased_weighted for r in results] if zero_one else None
            ),
        ).plot(ax=ax, split_variance=split_variance)

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
        split_variance: bool = False,
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
        split_variance : bool, default=False
            See :meth:`plot`.
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
        return cls.from_result(results, param_name=param_name, ax=ax, split_variance=split_variance)


def _optional_array(values):
    return None if values is None else np.asarray(values, dtype=float)
