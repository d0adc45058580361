"""The main job on built-in data: is a bag of five nets better than one net, on digits?

A default net and a bag of five of them, each in a Pipeline with StandardScaler, scored on
the same stratified 5-fold splits by accuracy, log loss and the Brier score (log loss and
Brier also judge how good the predicted probabilities are, where accuracy only counts the
top class). ``compare_models`` gives each score a corrected 95% interval and says whether
the difference is beyond the noise of the folds. Then the net's 0-1 loss on a held-out
quarter is split into bias and variance over bootstrap rounds.

Timings leave out the one-off start of the worker processes, paid once per Python process
(it is printed on its own line).

Run with ``make demo``. Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test
suite runs.
"""

import os
import textwrap
import time

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.model_selection import bias_variance_decomp, compare_models
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_JOBS = 1 if QUICK else 2  # quick mode skips the worker start-up, not the parallel code
# Scorer -> (name in words, sign: scikit-learn's scorers are higher-is-better, losses negated).
SCORERS = {
    "accuracy": ("accuracy", 1),
    "neg_log_loss": ("log loss", -1),
    "neg_brier_score": ("Brier score", -1),
}


def _start_worker():
    import ensemblekit.nets  # noqa: F401  (torch and the nets, imported once per worker)


def start_workers(n_jobs):
    """Start the worker processes and import torch in them, so that no timing below pays."""
    start = time.perf_counter()
    Parallel(n_jobs=n_jobs)(delayed(_start_worker)() for _ in range(n_jobs))
    return time.perf_counter() - start


def in_short(tables):
    """One line: per score, which model is better, or a tie."""
    parts = []
    for scorer, table in tables.items():
        words, sign = SCORERS[scorer]
        best, other = table[0], table[1]
        means = f"{sign * best.mean:.3f} against {sign * other.mean:.3f}"
        if other.significant:
            parts.append(f"{words}: {best.name} better ({means})")
        else:
            parts.append(f"{words}: a tie ({means})")
    return "In short, " + "; ".join(parts) + "."


def main():
    X, y = load_digits(return_X_y=True)
    if QUICK:
        X, y = X[:300], y[:300]
    epochs = 5 if QUICK else 50
    net = NeuralNetClassifier(max_epochs=epochs, random_state=0)
    models = {
        "one net": make_pipeline(StandardScaler(), net),
        # Each member gets its own seed from the bag's random_state: its own initial weights.
        "5 bagged nets": make_pipeline(
            StandardScaler(), BaggingClassifier(net, n_estimators=5, random_state=0)
        ),
    }
    print(f"load_digits: {X.shape[0]} rows, {X.shape[1]} features, {len(np.unique(y))} classes")
    print(f"one net: NeuralNetClassifier() = MLP 64-100-10, Adam, {epochs} epochs")
    if N_JOBS > 1:
        seconds = start_workers(N_JOBS)
        print(f"starting {N_JOBS} worker processes (paid once, not in the timings): "
              f"{seconds:.1f} s")  # fmt: skip

    print("\nfit once on all rows:")
    for name, model in models.items():
        start = time.perf_counter()
        clone(model).set_params(**_jobs(model)).fit(X, y)
        print(f"  {name:14s} {time.perf_counter() - start:5.1f} s")

    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    start = time.perf_counter()
    tables = compare_models(
        models, X, y, cv=cv, scoring=list(SCORERS), n_jobs=N_JOBS, random_state=0
    )
    print(f"\nthe same 5 folds for both models ({time.perf_counter() - start:.1f} s):\n")
    print(tables)

    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    rounds = 3 if QUICK else 10
    result = bias_variance_decomp(
        models["one net"], X_train, y_train, X_test, y_test,
        loss="0-1", n_rounds=rounds, random_state=0, n_jobs=N_JOBS,
    )  # fmt: skip
    print(f"\none net's test error over {rounds} bootstrap rounds, split into bias and variance:")
    print(
        f"  error {result.expected_loss:.4f} = bias {result.bias:.4f} "
        f"+ net variance {result.net_variance:.4f}"
    )
    print(
        f"  net variance = {result.variance_unbiased:.4f} (rounds that leave a right main "
        f"prediction)\n               - {result.variance_biased_weighted:.4f} (rounds that "
        "fix a wrong one)"
    )
    print("\n" + textwrap.fill(in_short(tables), width=88))


def _jobs(model):
    """The bag fits its members on the workers; one net has nothing to spread."""
    return {"baggingclassifier__n_jobs": N_JOBS} if "baggingclassifier" in model.named_steps else {}


if __name__ == "__main__":
    main()
