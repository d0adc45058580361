"""Bias and variance of a net as it widens, and of bagging as members are added.
=============================================================================

Friedman #1 regression (10 features, 5 informative, noise 1.0), squared loss, bootstrap
rounds. Left: an MLP with one hidden layer of growing width; the narrow net underfits
(high bias) and widening lowers the bias, while the variance peaks at a moderate width and
falls again for wide nets, as is seen for over-parameterised models. Right: bagging
regression trees; each added member lowers the variance while the bias stays. Third: a
decision tree of growing depth on the ten digit classes, 0-1 loss, where the loss is bias
+ *net* variance: the variance on digits whose main prediction is right adds to the loss,
and the rounds that move a wrong main prediction onto the right digit take from it. Saves
``plot_bias_variance.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits, make_friedman1
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import BaggingRegressor
from ensemblekit.model_selection import BiasVarianceDisplay, bias_variance_curve
from ensemblekit.nets import NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
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

    X_digits, y_digits = load_digits(return_X_y=True)
    depths = [2, 8] if QUICK else [1, 2, 4, 6, 8, 12]
    tree_curve = bias_variance_curve(
        DecisionTreeClassifier(), X_digits[:1200], y_digits[:1200], X_digits[1200:],
        y_digits[1200:], param_name="max_depth", param_range=depths, loss="0-1",
        n_rounds=N_ROUNDS, random_state=0, n_jobs=N_JOBS,
    )  # fmt: skip
    print("tree depth, digits, 0-1 loss")
    for r in tree_curve:
        print(
            f"  {r.params['max_depth']:>6}: loss {r.expected_loss:.3f} = bias {r.bias:.3f} "
            f"+ net variance {r.net_variance:.3f} (= {r.variance_unbiased:.3f} "
            f"- {r.variance_biased_weighted:.3f})"
        )

    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(16, 4.5), constrained_layout=True)
    BiasVarianceDisplay.from_result(net_curve, ax=left)
    left.set(title=f"Net on Friedman #1: widening lowers the bias ({N_ROUNDS} rounds)")
    BiasVarianceDisplay.from_result(bag_curve, ax=middle)
    middle.set(title="Bagging trees: members lower the variance", xlabel="members")
    BiasVarianceDisplay.from_result(tree_curve, ax=right, split_variance=True)
    right.set(title="A tree on digits: 0-1 loss = bias + net variance")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_bias_variance.png", dpi=110)


if __name__ == "__main__":
    main()
