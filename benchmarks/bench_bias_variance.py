"""Bias-variance decomposition: ensemblekit (n_jobs=1 and 2) vs mlxtend, on the same work.

    python benchmarks/bench_bias_variance.py
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_bias_variance.py

Two workloads on make_classification(2000, 20) split 75/25, 0-1 loss, bootstrap rounds:
a decision tree over 200 rounds and a small net (MLP 32, 20 epochs) over 20 rounds. Both
learners are seeded, so mlxtend (which refits one object) and ensemblekit (a fresh clone a
round, seeds kept) train the same models on the same draws: the numbers must agree, and the
script checks that they do. ensemblekit's joblib workers are warmed first, as in a session.
"""

import os
import time

import numpy as np
from mlxtend.evaluate import bias_variance_decomp as mlxtend_decomp
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.model_selection import bias_variance_decomp
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
JOBS = (1,) if QUICK else (1, 2)  # quick mode: a smoke test without worker start-up


def main():
    X, y = make_classification(n_samples=2000, n_features=20, n_informative=8, random_state=0)
    X = X.astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    workloads = {
        "decision tree": (DecisionTreeClassifier(random_state=0), 20 if QUICK else 200),
        "net (MLP 32)": (
            NeuralNetClassifier(
                module__hidden_units=(32,), max_epochs=2 if QUICK else 20, random_state=0
            ),
            4 if QUICK else 20,
        ),
    }
    # Warm the workers (torch import, first optimizer) as any later call in a session finds them.
    net, _ = workloads["net (MLP 32)"]
    bias_variance_decomp(net, X_train, y_train, X_test, y_test, n_rounds=2, n_jobs=JOBS[-1])

    for name, (estimator, rounds) in workloads.items():
        print(f"{name}, {rounds} rounds")
        start = time.perf_counter()
        theirs = mlxtend_decomp(
            estimator, X_train, y_train, X_test, y_test, loss="0-1_loss",
            num_rounds=rounds, random_seed=0,
        )  # fmt: skip
        t_mlxtend = time.perf_counter() - start
        print(f"  mlxtend               {t_mlxtend:7.2f} s  loss/bias/var {np.round(theirs, 4)}")
        times = {}
        # The joblib engine at each n_jobs, then "auto" (one vectorized pass for the nets).
        for n_jobs, engine in [*((n, "joblib") for n in JOBS), (1, "auto")]:
            start = time.perf_counter()
            ours = bias_variance_decomp(
                estimator, X_train, y_train, X_test, y_test, n_rounds=rounds,
                random_state=0, n_jobs=n_jobs, engine=engine,
            )  # fmt: skip
            seconds = time.perf_counter() - start
            times.setdefault(n_jobs if engine == "joblib" else engine, seconds)
            numbers = np.array([ours.expected_loss, ours.bias, ours.variance])
            same = np.allclose(numbers, theirs, rtol=0, atol=1e-12)
            print(
                f"  ensemblekit {engine} n_jobs={n_jobs}  {seconds:7.2f} s  "
                f"loss/bias/var {np.round(numbers, 4)}  equal to mlxtend: {same}"
            )
        print(f"  mlxtend / ensemblekit engine=auto: {t_mlxtend / times['auto']:5.2f}x")
        for n_jobs in JOBS:
            print(f"  mlxtend / ensemblekit n_jobs={n_jobs}: {t_mlxtend / times[n_jobs]:5.2f}x")
        if 2 in JOBS:
            print(f"  ensemblekit n_jobs=2 vs n_jobs=1: {times[1] / times[2]:5.2f}x")
        print()


if __name__ == "__main__":
    main()
