"""The main job on built-in data: 5-fold cross-validation of nets on digits.

A default net and a bag of five of them, each in a Pipeline with StandardScaler, scored by
the same stratified folds; then the net's 0-1 loss on a held-out quarter split into bias and
variance over bootstrap rounds.

Run with ``make demo``. Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test
suite runs.

The 95% interval uses Nadeau & Bengio's corrected variance, ``(1/k + n_test/n_train) * s^2``:
folds share training rows, so the plain t-interval over fold scores is too narrow.
"""

import os
import time

import numpy as np
from scipy import stats
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, cross_validate, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.model_selection import bias_variance_decomp
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_JOBS = 1 if QUICK else 2  # quick mode skips the worker start-up, not the parallel code


def corrected_interval(scores, n_train, n_test, confidence=0.95):
    """Mean and interval of k fold scores, variance corrected for overlapping training sets."""
    k = len(scores)
    half = stats.t.ppf(0.5 + confidence / 2, df=k - 1) * np.sqrt(
        (1 / k + n_test / n_train) * np.var(scores, ddof=1)
    )
    return np.mean(scores), np.mean(scores) - half, np.mean(scores) + half


def main():
    X, y = load_digits(return_X_y=True)
    if QUICK:
        X, y = X[:300], y[:300]
    net = NeuralNetClassifier(max_epochs=5 if QUICK else 50, random_state=0)
    models = {
        "net": make_pipeline(StandardScaler(), net),
        "bagged nets (5)": make_pipeline(
            StandardScaler(), BaggingClassifier(net, n_estimators=5, random_state=0)
        ),
    }
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    n_test = len(X) // cv.get_n_splits()

    print(f"load_digits: {X.shape[0]} rows, {X.shape[1]} features, {len(np.unique(y))} classes")
    print("net: NeuralNetClassifier() = MLP 64-100-10, Adam, 50 epochs, after StandardScaler\n")
    folds = {}
    for name, model in models.items():
        start = time.perf_counter()
        folds[name] = cross_validate(model, X, y, cv=cv, n_jobs=N_JOBS)["test_score"]
        mean, low, high = corrected_interval(folds[name], len(X) - n_test, n_test)
        print(
            f"{name:16s} accuracy {mean:.4f}, 95% interval [{low:.4f}, {high:.4f}] "
            f"({time.perf_counter() - start:.1f} s)"
        )
    print("\n" + f"{'per fold':16s}" + " ".join(f"{'fold ' + str(k + 1):>8s}" for k in range(5)))
    for name, scores in folds.items():
        print(f"{name:16s}" + " ".join(f"{s:8.4f}" for s in scores))
    print("\nIntervals use the corrected t (Nadeau & Bengio): folds share training rows.")

    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    rounds = 3 if QUICK else 10
    start = time.perf_counter()
    result = bias_variance_decomp(
        models["net"], X_train, y_train, X_test, y_test,
        loss="0-1", n_rounds=rounds, random_state=0, n_jobs=N_JOBS,
    )  # fmt: skip
    print(f"\nbias-variance of the net, 0-1 loss, {rounds} bootstrap rounds on 75% of the rows:")
    print(f"  {result}")
    helped = result.variance_unbiased - result.net_variance
    print(
        f"  loss {result.expected_loss:.4f} = bias {result.bias:.4f} + variance where the main "
        f"prediction is right {result.variance_unbiased:.4f} - {helped:.4f}, the rounds that "
        f"leave a wrong main prediction for the right label ({time.perf_counter() - start:.1f} s)"
    )


if __name__ == "__main__":
    main()
