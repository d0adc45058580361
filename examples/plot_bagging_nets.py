"""Accuracy and log loss of bagged nets and deep ensembles as members are added.
=============================================================================

On load_digits (a 75/25 split), fit a BaggingClassifier and a DeepEnsembleClassifier of
small nets once each, then score the average of their first k members for every k. Both
ensembles beat one net, most of all in log loss: averaging members' probabilities makes
them better calibrated. Saves ``plot_bagging_nets.png`` into the figures folder
(``$ENSEMBLEKIT_FIGURES``, or ``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import BaggingClassifier, DeepEnsembleClassifier
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
N_JOBS = 1 if QUICK else 2  # quick mode skips the worker start-up, not the parallel code
N_MEMBERS = 3 if QUICK else 12


def scores_by_size(ensemble, X, y):
    """Accuracy and log loss of the mean of the first k members, for k = 1..n."""
    total = np.zeros((len(X), len(ensemble.classes_)))
    accuracy, loss = [], []
    for k, member in enumerate(ensemble, start=1):
        # Members are fitted on labels encoded 0..n_classes-1, as in scikit-learn's bagging.
        total[:, member.classes_] += member.predict_proba(X)
        proba = total / k
        accuracy.append(accuracy_score(y, ensemble.classes_[proba.argmax(axis=1)]))
        loss.append(log_loss(y, proba, labels=ensemble.classes_))
    return np.array(accuracy), np.array(loss)


def main():
    X, y = load_digits(return_X_y=True)
    if QUICK:
        X, y = X[:400], y[:400]
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    net = NeuralNetClassifier(module__hidden_units=(64,), max_epochs=3 if QUICK else 30)
    ensembles = {
        "bagging": BaggingClassifier(net, n_estimators=N_MEMBERS, random_state=0, n_jobs=N_JOBS),
        "deep ensemble": DeepEnsembleClassifier(
            net, n_estimators=N_MEMBERS, random_state=0, n_jobs=N_JOBS
        ),
    }
    results = {}
    for name, ensemble in ensembles.items():
        results[name] = scores_by_size(ensemble.fit(X_train, y_train), X_test, y_test)

    print(f"{'members':>7} | {'bagging acc':>11} {'log loss':>8} | {'deep acc':>8} {'log loss':>8}")
    for k in range(N_MEMBERS):
        (b_acc, b_loss), (d_acc, d_loss) = results["bagging"], results["deep ensemble"]
        print(f"{k + 1:>7} | {b_acc[k]:11.4f} {b_loss[k]:8.4f} | {d_acc[k]:8.4f} {d_loss[k]:8.4f}")

    sizes = np.arange(1, N_MEMBERS + 1)
    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    for name, (accuracy, loss) in results.items():
        ax_acc.plot(sizes, accuracy, marker="o", label=name)
        ax_loss.plot(sizes, loss, marker="o", label=name)
    ax_acc.set(xlabel="members", ylabel="test accuracy", title="Accuracy")
    ax_loss.set(xlabel="members", ylabel="test log loss", title="Log loss (lower is better)")
    ax_acc.legend()
    fig.suptitle("Ensembles of small nets on load_digits")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_bagging_nets.png", dpi=110)


if __name__ == "__main__":
    main()
