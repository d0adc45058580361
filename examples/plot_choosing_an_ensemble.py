"""Choosing an ensemble: cost, accuracy, calibration and uncertainty side by side.
===============================================================================

One small net and eight ways to make an ensemble of it (or to average its weights),
trained on a fifth of load_digits and scored on the rest, over several splits:

- **cost**: fits, epochs of training in all, parameters kept for prediction, and the fit
  time (two workers where the members are independent);
- **accuracy** and **log loss** (NLL);
- **calibration**: expected calibration error (15 equal-width bins);
- **uncertainty**: how well the predictive entropy tells the rows the model gets wrong from
  those it gets right (the area under the ROC curve; 0.5 is no better than chance).

It prints two Markdown tables, the cost and the measures (mean and standard deviation over
the splits, and on how many splits the log loss is below the single net's), and saves
``plot_choosing_an_ensemble.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or
``figures/`` in the current folder): one row per method, one panel per column. The user
guide's "Choosing an ensemble" page shows the full run.

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter
from scipy.stats import entropy
from sklearn.datasets import load_digits
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.averaging import EMA, SWA
from ensemblekit.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    CVEnsembleClassifier,
    DeepEnsembleClassifier,
    GradientBoostingClassifier,
    SnapshotEnsembleClassifier,
)
from ensemblekit.metrics import expected_calibration_error
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 3 if QUICK else 100
MEMBERS = 3 if QUICK else 5
STAGES = 2 * MEMBERS  # boosting's members are weak nets, so it takes more of them
SPLITS = 1 if QUICK else 5
TRAIN = 0.2  # a small training set, where one net varies most from seed to seed
N_JOBS = 1 if QUICK else 2
NET = {"module__hidden_units": (128,), "lr": 3e-3, "max_epochs": EPOCHS}
SMALL = {**NET, "module__hidden_units": (4,)}


def models(seed: int) -> dict:
    net = NeuralNetClassifier(**NET)
    parallel = {"random_state": seed, "n_jobs": N_JOBS}
    swa = SWA(swa_start=EPOCHS // 2 + 1)
    return {
        "one net": NeuralNetClassifier(**NET, random_state=seed),
        "EMA of the weights": NeuralNetClassifier(
            **NET, random_state=seed, callbacks=[("ema", EMA(0.95))]
        ),
        "SWA": NeuralNetClassifier(**NET, random_state=seed, callbacks=[("swa", swa)]),
        "snapshot ensemble": SnapshotEnsembleClassifier(
            net, n_estimators=MEMBERS, lr_max=1e-2, random_state=seed
        ),
        "deep ensemble": DeepEnsembleClassifier(net, n_estimators=MEMBERS, **parallel),
        "bagging": BaggingClassifier(net, n_estimators=MEMBERS, **parallel),
        "CV ensemble": CVEnsembleClassifier(net, cv=MEMBERS, **parallel),
        "AdaBoost, smaller nets": AdaBoostClassifier(
            NeuralNetClassifier(**SMALL), n_estimators=STAGES, random_state=seed
        ),
        "gradient boosting, smaller nets": GradientBoostingClassifier(
            NeuralNetRegressor(**SMALL), n_estimators=STAGES, learning_rate=0.5, random_state=seed
        ),
    }


def cost(model) -> dict:
    """Fits, epochs in all and parameters kept, read from the fitted model (AdaBoost stops
    early when a member fits the training rows)."""
    members = getattr(model, "estimators_", [model])
    one_run = isinstance(model, SnapshotEnsembleClassifier)  # every member is a snapshot
    fits = 1 if one_run else len(members)
    return {
        "fits": fits,
        "epochs": fits * EPOCHS,
        "parameters": sum(p.numel() for m in members for p in m.module_.parameters()),
    }


def measure(model, X_train, X_test, y_train, y_test) -> dict:
    pipeline = make_pipeline(StandardScaler(), model)
    start = time.perf_counter()
    pipeline.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    proba = pipeline.predict_proba(X_test)
    wrong = proba.argmax(axis=1) != y_test
    return {
        **cost(pipeline[-1]),
        "seconds": seconds,
        "accuracy": accuracy_score(y_test, proba.argmax(axis=1)),
        "log loss": log_loss(y_test, proba, labels=np.arange(10)),
        "ECE": expected_calibration_error(y_test, proba),
        # Entropy ranks the rows: a useful uncertainty puts the errors first.
        "error AUROC": roc_auc_score(wrong, entropy(proba, axis=1)) if wrong.any() else np.nan,
    }


COLUMNS = ["accuracy", "log loss", "ECE", "error AUROC"]


def wins(results: dict) -> dict:
    """Per method, the splits on which its log loss is below the single net's: a paired
    count, which the standard deviations (mostly differences between splits) hide."""
    baseline = [r["log loss"] for r in results["one net"]]
    return {
        name: sum(r["log loss"] < b for r, b in zip(runs, baseline, strict=True))
        for name, runs in results.items()
    }


def print_tables(results: dict) -> None:
    """Two Markdown tables: the cost (means over the splits), then each measure's mean and
    standard deviation, and the paired count."""
    mean = {
        name: {k: np.mean([r[k] for r in runs]) for k in runs[0]} for name, runs in results.items()
    }
    print("| method | fits | epochs in all | parameters kept | fit time |\n|---|---|---|---|---|")
    for name, m in mean.items():
        print(f"| {name} | {m['fits']:.3g} | {m['epochs']:.0f} | {m['parameters']:,.0f} | "
              f"{m['seconds']:.1f} s |")  # fmt: skip
    print("\n| method | " + " | ".join(COLUMNS) + " | log loss below one net's |")
    print("|---" * (len(COLUMNS) + 2) + "|")
    for (name, runs), won in zip(results.items(), wins(results).values(), strict=True):
        # No-break spaces keep "mean ± sd" on one line of a narrow table.
        cells = [
            f"{mean[name][c]:.3f}\u00a0±\u00a0{np.std([r[c] for r in runs]):.3f}" for c in COLUMNS
        ]
        count = "" if name == "one net" else f"{won} of {len(runs)}"
        print(f"| {name} | " + " | ".join(cells) + f" | {count} |")


def plot(results: dict, title: str) -> None:
    """One row per method: its cost, each measure (mean and standard deviation) and the
    paired count."""
    names = list(results)
    rows = np.arange(len(names))
    fig, axes = plt.subplots(2, 3, figsize=(13, 8), sharey=True, constrained_layout=True)
    axes = axes.ravel()
    epochs = [np.mean([r["epochs"] for r in results[name]]) for name in names]
    axes[0].barh(rows, epochs, color="0.6")
    axes[0].set_title("Cost: epochs of training in all")
    titles = {"accuracy": "Accuracy (higher is better)", "log loss": "Log loss (lower is better)",
              "ECE": "Calibration error, ECE (lower is better)",
              "error AUROC": "Errors found by entropy, AUROC (higher)"}  # fmt: skip
    for ax, column in zip(axes[1:5], COLUMNS, strict=True):
        values = [[r[column] for r in results[name]] for name in names]
        ax.errorbar(np.mean(values, axis=1), rows, xerr=np.std(values, axis=1), fmt="o",
                    capsize=3)  # fmt: skip
        # The single net's mean, to read every method against.
        ax.axvline(np.mean(values[0]), color="C1", linestyle="--", linewidth=1)
        ax.set_title(titles[column])
    # Log scales: boosting's probabilities are far from the others'.
    for ax, ticks in ((axes[2], [0.1, 0.2, 0.5, 1, 2]), (axes[3], [0.01, 0.03, 0.1, 0.3, 1])):
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    axes[5].barh(rows[1:], list(wins(results).values())[1:], color="C2")
    axes[5].set(xlim=(0, len(results["one net"])), xlabel="splits",
                title="Log loss below one net's, same split")  # fmt: skip
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].set_yticks(rows, names)
    axes[0].invert_yaxis()
    fig.suptitle(title)
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "plot_choosing_an_ensemble.png", dpi=80)


def main():
    X, y = load_digits(return_X_y=True)
    # Warm torch and the worker processes up, so that the first model timed pays for neither.
    DeepEnsembleClassifier(NeuralNetClassifier(max_epochs=1), n_estimators=2, n_jobs=N_JOBS).fit(
        X[:50], y[:50]
    )
    results = {}
    for seed in range(SPLITS):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=TRAIN, stratify=y, random_state=seed
        )
        for name, model in models(seed).items():
            results.setdefault(name, []).append(measure(model, X_train, X_test, y_train, y_test))
    title = (
        f"load_digits, {len(X_train)} training rows, {len(X_test)} test rows, {SPLITS} split(s);"
        f" nets 64-{NET['module__hidden_units'][0]}-10 (boosting: 64-4-10), {EPOCHS} epochs a fit"
    )
    print(title + "\n")
    print_tables(results)
    plot(results, title)


if __name__ == "__main__":
    main()
