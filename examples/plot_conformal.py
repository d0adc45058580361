"""Intervals that hold what they promise: conformal prediction around nets
=========================================================================

A deep ensemble's spread is not a confidence interval. On load_diabetes (a third held
out), this example compares, at levels from 50% to 95%:

- a deep ensemble of five Gaussian nets (Lakshminarayanan et al. 2017: each predicts a
  mean and a spread), intervals ``mean +- z sd`` of the mixture;
- the same kind of nets bagged, conformalized by the jackknife+ after bootstrap (each
  training row's residual against the members that did not draw it: no extra fit);
- conformalized quantile regression (CQR): one net trained on the pinball loss for every
  level's quantiles, widened by the calibration rows' largest miss.

It draws coverage against the level (the conformal intervals sit on or above the
diagonal, within the noise of the held-out rows; the deep ensemble's below it at most
levels) and what each costs in width. The lower panels show why CQR is worth its fit
where the noise grows with x: its band follows the noise, where split conformal's has
one width everywhere.

Saves ``plot_conformal.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder). Set
``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.conformal import ConformalRegressor
from ensemblekit.ensemble import BaggingRegressor, DeepEnsembleRegressor
from ensemblekit.metrics import CoverageDisplay, coverage_score, mean_width_score
from ensemblekit.nets import GaussianNLLLoss, NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figures go
EPOCHS = 5 if QUICK else 150
MEMBERS = 20  # enough that nearly every row is out of bag for some member
LEVELS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95]


def net(**params):
    return NeuralNetRegressor(
        max_epochs=EPOCHS, lr=0.003, optimizer__weight_decay=1e-4, early_stopping=True, tol=0.01,
        **params,
    )  # fmt: skip


def diabetes():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=1 / 3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    centre, scale = y_train.mean(), y_train.std()
    return (
        scaler.transform(X_train), scaler.transform(X_test),
        (y_train - centre) / scale, (y_test - centre) / scale,
    )  # fmt: skip


def main():
    X_train, X_test, y_train, y_test = diabetes()

    # The deep ensemble's own intervals: mean +- z sd of its Gaussian members' mixture.
    deep = DeepEnsembleRegressor(net(criterion=GaussianNLLLoss), n_estimators=5, random_state=0)
    deep.fit(X_train, y_train)
    mean, sd = deep.predict(X_test, return_std=True)
    z = stats.norm.ppf(0.5 + np.array(LEVELS) / 2)
    naive = np.stack([mean[:, None] - z * sd[:, None], mean[:, None] + z * sd[:, None]], axis=1)
    curves = {"Gaussian deep ensemble, mean +- z sd": (
        np.array(LEVELS), coverage_score(y_test, naive), mean_width_score(y_test, naive)
    )}  # fmt: skip

    # Conformal: the bagging ensemble's out-of-bag rows, and quantile nets.
    bagging = BaggingRegressor(net(), n_estimators=MEMBERS, random_state=0)
    models = {
        "bagged nets, jackknife+ after bootstrap": ConformalRegressor(
            bagging, method="jackknife_plus_ab", confidence_level=LEVELS, random_state=0
        ),
        "quantile net, CQR": ConformalRegressor(
            net(), method="cqr", confidence_level=LEVELS, random_state=0
        ),
    }
    for name, model in models.items():
        model.fit(X_train, y_train)
        intervals = model.predict_interval(X_test)
        curves[name] = (
            np.array(LEVELS), coverage_score(y_test, intervals), mean_width_score(y_test, intervals)
        )  # fmt: skip
    print(f"{'':42s}" + "".join(f"{level:>7.0%}" for level in LEVELS))
    for name, (_, coverage, width) in curves.items():
        print(f"{name:42s}" + "".join(f"{c:7.2f}" for c in coverage) + "  coverage")
        print(f"{'':42s}" + "".join(f"{w:7.2f}" for w in width) + "  width")
    fig, axes = plt.subplot_mosaic(
        [["coverage", "width"], ["split", "cqr"]], figsize=(10, 8), constrained_layout=True
    )
    display = CoverageDisplay(curves, n_rows=len(y_test), size_label="mean width")
    display.plot([axes["coverage"], axes["width"]])
    axes["coverage"].set_title(f"load_diabetes: coverage on {len(y_test)} held-out rows")
    bands([axes["split"], axes["cqr"]])
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_conformal.png", dpi=110)


def bands(axes):
    """Split conformal against CQR where the noise grows with |x|."""
    rng = np.random.RandomState(0)
    n = 600 if QUICK else 3000
    X = rng.uniform(-3, 3, (n, 1))
    y = np.sin(X[:, 0]) + 0.4 * np.abs(X[:, 0]) * rng.normal(size=n)
    half = n // 2
    grid = np.linspace(-3, 3, 200)[:, None]
    for ax, method in zip(axes, ["split", "cqr"], strict=True):
        model = ConformalRegressor(net(), method=method, random_state=0).fit(X[:half], y[:half])
        held_out = model.predict_interval(X[half:])
        band = model.predict_interval(grid)
        ax.scatter(X[half:, 0], y[half:], s=4, color="0.6", label="held-out rows")
        ax.fill_between(grid[:, 0], band[:, 0], band[:, 1], alpha=0.3, label="90% interval")
        ax.plot(grid[:, 0], model.predict(grid), color="C3", label="prediction")
        ax.set(xlabel="x", title=(
            f"{method}: coverage {coverage_score(y[half:], held_out):.1%}, "
            f"mean width {mean_width_score(y[half:], held_out):.2f}"
        ))  # fmt: skip
    axes[0].set_ylabel("y")
    axes[0].legend(loc="upper left", frameon=False)
    axes[1].sharey(axes[0])


if __name__ == "__main__":
    with warnings.catch_warnings():
        if QUICK:  # a few epochs: the nets have not converged, on purpose
            warnings.simplefilter("ignore", ConvergenceWarning)
        main()
