"""The main job on built-in data: 5-fold cross-validation of a default net on digits.

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
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"


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
    model = make_pipeline(StandardScaler(), net)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)

    print(f"load_digits: {X.shape[0]} rows, {X.shape[1]} features, {len(np.unique(y))} classes")
    print("model: StandardScaler -> NeuralNetClassifier() (MLP 64-100-10, Adam, 50 epochs)\n")
    start = time.perf_counter()
    result = cross_validate(model, X, y, cv=cv, n_jobs=2)
    elapsed = time.perf_counter() - start

    for fold, score in enumerate(result["test_score"], start=1):
        print(f"fold {fold}: accuracy {score:.4f}")
    n_test = len(X) // cv.get_n_splits()
    mean, low, high = corrected_interval(result["test_score"], len(X) - n_test, n_test)
    print(f"\nmean accuracy {mean:.4f}, 95% interval [{low:.4f}, {high:.4f}] (corrected t)")
    print(f"5 folds in {elapsed:.1f} s with n_jobs=2")


if __name__ == "__main__":
    main()
