"""Ensembles from one training run, against one net and a deep ensemble of the same budget.
========================================================================================

On load_digits, every method gets the same budget of ``EPOCHS`` epochs of one small net:

- a single net, trained once with a constant learning rate;
- checkpoints: the same run, saved at 5 points (``SnapshotCollector``) and averaged
  (``SnapshotEnsembleClassifier.from_checkpoints``);
- a snapshot ensemble (cosine restarts, Huang et al. 2017) and FGE (triangular cycles,
  Garipov et al. 2018), 5 members each;
- SWA over the second half of the run, and an EMA of the weights (decay 0.99);
- uniform and greedy soups of the snapshot ensemble's members (one net's cost to predict;
  greedy picks by log loss on a validation split);
- a deep ensemble of 5 nets trained for ``EPOCHS / 5`` epochs each.

Everything trains on the same 80% of the training split; the other 20% is the soups'
validation set. Prints test accuracy, log loss and training time, and saves
``plot_checkpoint_ensembles.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from ensemblekit.averaging import EMA, SWA, SnapshotCollector, model_soup
from ensemblekit.ensemble import DeepEnsembleClassifier, SnapshotEnsembleClassifier
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 5 if QUICK else 50
N_MEMBERS = 5


def make_net(**params):
    """The one architecture every method trains: 64-128-10 with dropout, Adam."""
    defaults = {
        "module__hidden_units": (128,),
        "module__dropout": 0.2,
        "lr": 3e-3,
        "batch_size": 64,
        "max_epochs": EPOCHS,
        "random_state": 0,
    }
    return NeuralNetClassifier(**{**defaults, **params})


def timed(fit):
    start = time.perf_counter()
    model = fit()
    return model, time.perf_counter() - start


def main():
    X, y = load_digits(return_X_y=True)
    if QUICK:
        X, y = X[:400], y[:400]
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    X_fit, X_val, y_fit, y_val = train_test_split(
        X_train, y_train, test_size=0.2, stratify=y_train, random_state=0
    )
    scaler = StandardScaler().fit(X_fit)
    X_fit, X_val, X_test = (scaler.transform(a) for a in (X_fit, X_val, X_test))
    make_net(max_epochs=max(1, EPOCHS // 5)).fit(X_fit, y_fit)  # warm up: fair first timing

    models, seconds = {}, {}
    run, seconds["single net"] = timed(
        lambda: make_net(callbacks=[("checkpoints", SnapshotCollector(N_MEMBERS))]).fit(
            X_fit, y_fit
        )
    )
    models["single net"] = run
    # The checkpoints came with the single run: no training time of their own.
    checkpoints = dict(run.callbacks_)["checkpoints"].snapshots_
    models["checkpoints"] = SnapshotEnsembleClassifier.from_checkpoints(run, checkpoints)
    seconds["checkpoints"] = seconds["single net"]
    for name, schedule in [("snapshot", "cosine"), ("FGE", "triangular")]:
        ensemble = SnapshotEnsembleClassifier(make_net(), N_MEMBERS, schedule=schedule)
        models[name], seconds[name] = timed(lambda e=ensemble: e.fit(X_fit, y_fit))
    swa = make_net(callbacks=[("swa", SWA(swa_start=EPOCHS // 2))])
    models["SWA"], seconds["SWA"] = timed(lambda: swa.fit(X_fit, y_fit))
    ema = make_net(callbacks=[("ema", EMA(decay=0.99))])
    models["EMA"], seconds["EMA"] = timed(lambda: ema.fit(X_fit, y_fit))
    for method in ("uniform", "greedy"):
        name = f"{method} soup"
        models[name], seconds[name] = timed(
            lambda m=method: model_soup(
                models["snapshot"].estimators_, X_val, y_val, method=m, scoring="neg_log_loss"
            )
        )
        seconds[name] += seconds["snapshot"]  # a soup costs its ingredients' run
    deep = DeepEnsembleClassifier(
        make_net(max_epochs=max(1, EPOCHS // N_MEMBERS), random_state=None),
        n_estimators=N_MEMBERS,
        random_state=0,
    )
    models["deep ensemble"], seconds["deep ensemble"] = timed(lambda: deep.fit(X_fit, y_fit))

    names = list(models)
    accuracy, loss = [], []
    print(f"{EPOCHS} epochs each; {len(X_fit)} training rows, {len(X_test)} test rows")
    print(f"{'method':>14} | {'accuracy':>8} {'log loss':>8} {'time (s)':>8}")
    for name in names:
        proba = models[name].predict_proba(X_test)
        accuracy.append(accuracy_score(y_test, proba.argmax(axis=1)))
        loss.append(log_loss(y_test, proba, labels=np.arange(10)))
        print(f"{name:>14} | {accuracy[-1]:8.4f} {loss[-1]:8.4f} {seconds[name]:8.2f}")
    soup = models["greedy soup"]
    print(f"greedy soup kept snapshots {soup.soup_ingredients_} of 0..{N_MEMBERS - 1}")

    fig, axes = plt.subplots(1, 3, figsize=(11, 4.5), sharey=True, constrained_layout=True)
    positions = np.arange(len(names))
    # Scores as points on axes that start near them (bars from 0 would hide differences
    # of a point or two), the single net's as a dashed line; time as bars from 0.
    for ax, values, title in zip(
        axes[:2], (accuracy, loss), ("test accuracy", "test log loss (lower is better)"),
        strict=True,
    ):  # fmt: skip
        ax.plot(values, positions, "o", color="tab:blue", markersize=8)
        ax.axvline(values[0], color="grey", linestyle="--", linewidth=1)
        ax.margins(x=0.15)
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[2].barh(positions, [seconds[n] for n in names], color="tab:blue")
    axes[2].set_title("training time (s)")
    axes[0].set_yticks(positions, names)
    axes[0].invert_yaxis()
    fig.suptitle(f"Ensembles from one run vs a single net, load_digits, {EPOCHS} epochs each")
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_checkpoint_ensembles.png", dpi=110)


if __name__ == "__main__":
    main()
