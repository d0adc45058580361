"""Boosting small nets: staged test error against one net of the same training budget.
===================================================================================

A 3-class make_classification problem (20 features, 10 informative). AdaBoost (SAMME) and
gradient boosting (multinomial deviance) each chain small nets (one hidden layer of 4
units, 10 epochs per stage); a single net of the same shape trains for as many epochs as
all the stages together. The plot shows the test error after each stage. Saves
``plot_boosting_nets.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import AdaBoostClassifier, GradientBoostingClassifier
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
STAGES, EPOCHS = (3, 2) if QUICK else (25, 10)


def main():
    X, y = make_classification(
        n_samples=600 if QUICK else 3000, n_features=20, n_informative=10, n_classes=3,
        random_state=0,
    )  # fmt: skip
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    small = {"module__hidden_units": (4,), "max_epochs": EPOCHS, "lr": 1e-2}

    ada = AdaBoostClassifier(
        NeuralNetClassifier(**small), STAGES, learning_rate=0.5, random_state=0
    )
    gb = GradientBoostingClassifier(
        NeuralNetRegressor(**small), STAGES, learning_rate=0.5, random_state=0
    )
    single = NeuralNetClassifier(**{**small, "max_epochs": EPOCHS * STAGES}, random_state=0)
    ada.fit(X_train, y_train)
    gb.fit(X_train, y_train)
    single_error = 1 - single.fit(X_train, y_train).score(X_test, y_test)

    curves = {
        "AdaBoost (SAMME)": [1 - np.mean(p == y_test) for p in ada.staged_predict(X_test)],
        "gradient boosting": [1 - np.mean(p == y_test) for p in gb.staged_predict(X_test)],
    }
    print(f"single net, {EPOCHS * STAGES} epochs: test error {single_error:.4f}")
    for name, errors in curves.items():
        best = int(np.argmin(errors))
        print(
            f"{name}: {len(errors)} stages, test error {errors[0]:.4f} after one, "
            f"{errors[-1]:.4f} after all (best {errors[best]:.4f} at stage {best + 1})"
        )

    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for name, errors in curves.items():
        ax.plot(np.arange(1, len(errors) + 1), errors, marker="o", ms=3, label=name)
    ax.axhline(single_error, color="gray", ls="--", label=f"one net, {EPOCHS * STAGES} epochs")
    ax.set(xlabel="stage", ylabel="test error", title="Boosting nets with 4 hidden units")
    ax.legend()
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_boosting_nets.png", dpi=110)


if __name__ == "__main__":
    main()
