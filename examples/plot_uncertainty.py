"""How sure are they? One net, a deep ensemble, bagging, a snapshot ensemble and SWA.
==================================================================================

On load_digits (a quarter held out), five models of one small net are compared on what
accuracy does not show:

- accuracy, log loss (NLL) and expected calibration error (15 equal-width bins);
  the reliability diagram uses 8 equal-mass bins, since most rows are confident;
- the uncertainty split of each ensemble: mean epistemic uncertainty (the members'
  disagreement, the mutual information) on the rows it gets wrong and on those it gets
  right;
- log loss against the number of members for the deep ensemble and bagging, over random
  member orderings (where more members stop paying);
- the diversity decomposition of the deep ensemble's log loss: ensemble loss = average
  member loss - diversity.

Saves ``plot_uncertainty.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.averaging import SWA
from ensemblekit.ensemble import (
    BaggingClassifier,
    DeepEnsembleClassifier,
    SnapshotEnsembleClassifier,
)
from ensemblekit.metrics import ReliabilityDisplay, expected_calibration_error
from ensemblekit.model_selection import (
    EnsembleSizeDisplay,
    diversity_decomp,
    predictive_uncertainty,
)
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 4 if QUICK else 40
MEMBERS = 3 if QUICK else 5
N_JOBS = 1 if QUICK else 2


def make_net(**params):
    defaults = {"module__hidden_units": (64,), "lr": 3e-3, "max_epochs": EPOCHS}
    return NeuralNetClassifier(**{**defaults, **params})


def main():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

    swa_start = max(1, EPOCHS // 2)
    models = {
        "one net": make_net(random_state=0),
        "deep ensemble": DeepEnsembleClassifier(
            make_net(), n_estimators=MEMBERS, random_state=0, n_jobs=N_JOBS
        ),
        "bagging": BaggingClassifier(
            make_net(), n_estimators=MEMBERS, random_state=0, n_jobs=N_JOBS
        ),
        "snapshot ensemble": SnapshotEnsembleClassifier(
            make_net(max_epochs=EPOCHS * 2), n_estimators=MEMBERS, random_state=0
        ),
        "SWA": make_net(random_state=0, callbacks=[("swa", SWA(swa_start=swa_start))]),
    }
    for model in models.values():
        model.fit(X_train, y_train)

    print(f"{'model':18s} {'accuracy':>8s} {'NLL':>7s} {'ECE':>7s}  epistemic: errors / hits")
    probabilities = {}
    for name, model in models.items():
        proba = model.predict_proba(X_test)
        probabilities[name] = proba
        line = (
            f"{name:18s} {accuracy_score(y_test, proba.argmax(axis=1)):8.4f} "
            f"{log_loss(y_test, proba):7.4f} {expected_calibration_error(y_test, proba):7.4f}"
        )
        if hasattr(model, "estimators_"):
            u = predictive_uncertainty(model, X_test)
            wrong = proba.argmax(axis=1) != y_test
            line += f"  {u.epistemic[wrong].mean():.3f} / {u.epistemic[~wrong].mean():.3f}"
        print(line)

    diversity = diversity_decomp(models["deep ensemble"], X_test, y_test)
    print(f"\ndeep ensemble, log loss: {diversity}")

    # Two panels a row at most, so the text reads at the width of a page.
    fig, panels = plt.subplot_mosaic(
        [["reliability", "size"], ["diversity", "diversity"]], figsize=(12, 10),
        constrained_layout=True,
    )  # fmt: skip
    axes = [panels["reliability"], panels["size"], panels["diversity"]]
    # Equal-mass bins: most rows are confident, and equal-width bins at low confidence
    # would hold a handful of rows each.
    ReliabilityDisplay.from_predictions(
        y_test, probabilities, n_bins=8, strategy="quantile", ax=axes[0]
    )
    axes[0].set_title("Reliability on the held-out quarter")
    for name in ("deep ensemble", "bagging"):
        EnsembleSizeDisplay.from_estimator(
            models[name], X_test, y_test, scoring="neg_log_loss", n_orderings=10,
            random_state=0, ax=axes[1], label=name,
        )  # fmt: skip
    axes[1].set_title("Minus log loss against the number of members")
    diversity.plot(ax=axes[2])
    axes[2].set_title("Deep ensemble: members' and ensemble's log loss")
    fig.suptitle(f"load_digits, nets 64-64-10, {EPOCHS} epochs each")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_uncertainty.png", dpi=100)


if __name__ == "__main__":
    main()
