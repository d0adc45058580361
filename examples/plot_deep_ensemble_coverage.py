"""Deep ensembles as the paper trains them: do their intervals hold what they promise?
===================================================================================

On load_diabetes (a quarter held out), two deep ensembles of five small nets:

- spread only: nets trained on the squared error; ``predict(X, return_std=True)`` gives the
  spread of the members' predictions, which counts only where they disagree;
- Gaussian members (Lakshminarayanan et al. 2017): nets trained with ``GaussianNLLLoss``
  that predict a mean and a standard deviation; ``return_std=True`` gives the standard
  deviation of the mixture of their Gaussians, the noise they predict plus their
  disagreement.

Each net stops early on a tenth of its training rows (a net that fits its noise predicts
too small a spread). For central intervals ``mean +- z sd`` at several levels, the example
prints the share of held-out targets inside each (coverage, which should equal the level)
and the Gaussian negative log likelihood, and draws coverage against the level. Saves
``plot_deep_ensemble_coverage.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import DeepEnsembleRegressor
from ensemblekit.metrics import gaussian_nll
from ensemblekit.model_selection import predictive_uncertainty
from ensemblekit.nets import GaussianNLLLoss, NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 5 if QUICK else 200
LEVELS = np.array([0.5, 0.8, 0.9, 0.95, 0.99])


def main():
    X, y = load_diabetes(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    centre, scale = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - centre) / scale, (y_test - centre) / scale

    # Early stopping on 10% of the training rows: a net that fits its noise predicts too
    # small a spread.
    net = {
        "module__hidden_units": (32,), "lr": 3e-3, "max_epochs": EPOCHS, "batch_size": 32,
        "early_stopping": True, "n_iter_no_change": 10,
    }  # fmt: skip
    ensembles = {
        "spread only": DeepEnsembleRegressor(NeuralNetRegressor(**net), random_state=0),
        "Gaussian members": DeepEnsembleRegressor(
            NeuralNetRegressor(criterion=GaussianNLLLoss, **net), random_state=0
        ),
    }
    z = stats.norm.ppf(0.5 + LEVELS / 2)
    coverage = {}
    print(f"{'ensemble':18s} {'RMSE':>6s} {'NLL':>7s}  coverage at " + " ".join(
        f"{level:.0%}" for level in LEVELS
    ))  # fmt: skip
    for name, ensemble in ensembles.items():
        ensemble.fit(X_train, y_train)
        mean, std = ensemble.predict(X_test, return_std=True)
        inside = np.abs(y_test - mean)[:, None] <= z * std[:, None]
        coverage[name] = inside.mean(axis=0)
        rmse = np.sqrt(np.mean((mean - y_test) ** 2))
        print(
            f"{name:18s} {rmse:6.3f} {gaussian_nll(y_test, mean, std):7.3f}            "
            + " ".join(f"{c:4.0%}" for c in coverage[name])
        )
    u = predictive_uncertainty(ensembles["Gaussian members"], X_test)
    share = u.aleatoric.mean() / u.total.mean()
    print(f"\nGaussian members: the predicted noise is {share:.0%} of the mixture's variance")

    fig, ax = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
    ax.plot([0.4, 1], [0.4, 1], "--", color="0.5", label="coverage = level")
    for name, values in coverage.items():
        ax.plot(LEVELS, values, marker="o", label=name)
    ax.set(
        xlabel="level of the central interval mean ± z·sd",
        ylabel="share of held-out targets inside",
        title=f"load_diabetes, deep ensembles of 5 nets (early stopping, <= {EPOCHS} epochs)",
        xlim=(0.4, 1.01), ylim=(0, 1.01),
    )  # fmt: skip
    ax.legend(loc="lower right")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_deep_ensemble_coverage.png", dpi=110)


if __name__ == "__main__":
    main()
