"""Bias and variance of a net as it widens, and of bagging as members are added.

Friedman #1 regression (10 features, 5 informative, noise 1.0), squared loss, bootstrap
rounds. Left: an MLP with one hidden layer of growing width; the narrow net underfits (high
bias) and widening lowers the bias, while the variance peaks at a moderate width and falls
again for wide nets, as is seen for over-parameterised models. Right: bagging regression
trees; each added member lowers the variance while the bias stays. Saves
``plot_bias_variance.png`` into the figures folder (``--figures DIR``,
``$ENSEMBLEKIT_FIGURES`` or ``examples/figures/``).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os

import matplotlib.pyplot as plt
from _figures import save
from sklearn.datasets import make_friedman1
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.ensemble import BaggingRegressor
from ensemblekit.model_selection import BiasVarianceDisplay, bias_variance_curve
from ensemblekit.nets import NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_JOBS = 1 if QUICK else 2  # quick mode skips the worker start-up, not the parallel code
N_ROUNDS = 3 if QUICK else 20


def main():
    X, y = make_friedman1(n_samples=900, noise=1.0, random_state=0)
    X_train, y_train, X_test, y_test = X[:400], y[:400], X[400:], y[400:]
    mean, std = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - mean) / std, (y_test - mean) / std  # nets like unit targets

    net = make_pipeline(
        StandardScaler(), NeuralNetRegressor(max_epochs=5 if QUICK else 100, lr=1e-2)
    )
    widths = [(1,), (4,)] if QUICK else [(1,), (2,), (4,), (16,), (64,)]
    net_curve = bias_variance_curve(
        net, X_train, y_train, X_test, y_test,
        param_name="neuralnetregressor__module__hidden_units", param_range=widths,
        loss="mse", n_rounds=N_ROUNDS, random_state=0, n_jobs=N_JOBS,
    )  # fmt: skip
    members = [1, 3] if QUICK else [1, 2, 5, 10, 25]
    bag_curve = bias_variance_curve(
        BaggingRegressor(DecisionTreeRegressor(), random_state=0), X_train, y_train, X_test,
        y_test, param_name="n_estimators", param_range=members, loss="mse",
        n_rounds=N_ROUNDS, random_state=0, n_jobs=N_JOBS,
    )  # fmt: skip

    for title, curve in (("MLP hidden units", net_curve), ("bagged trees", bag_curve)):
        print(title)
        for r in curve:
            value = next(iter(r.params.values()))
            print(
                f"  {value!s:>6}: loss {r.expected_loss:.3f} = bias^2+noise {r.bias:.3f} "
                f"+ variance {r.variance:.3f}"
            )

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    BiasVarianceDisplay.from_result(net_curve, ax=left)
    left.set(title="Net: widening lowers the bias", xlabel="hidden units")
    BiasVarianceDisplay.from_result(bag_curve, ax=right)
    right.set(title="Bagging trees: members lower the variance", xlabel="members")
    fig.suptitle(f"Squared-loss decomposition on Friedman #1 ({N_ROUNDS} bootstrap rounds)")
    save(fig, "plot_bias_variance.png", dpi=110)


if __name__ == "__main__":
    main()
