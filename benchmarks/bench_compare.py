"""compare_models against a study (Experiment) of the same models, folds and seeds.

    python benchmarks/bench_compare.py
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_compare.py

Workload: make_classification(4,000 rows, 20 features, 10 informative, 3 classes), scaled;
two nets, each an MLP 20-64-64-3 (one with dropout 0.1), Adam, batch 128, 8 epochs, on
5-fold KFold (shuffled, random_state=0). Both tools train a model's folds stacked ("auto"
engine); compare_models with engine="joblib" (one fold at a time) is timed too. Each is run
in turn, 3 rounds; the medians are reported, and the largest difference of compare_models'
fold scores from the study's.
"""

import os
import statistics
import tempfile
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from ensemblekit.experiment import Experiment
from ensemblekit.model_selection import compare_models
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
ROUNDS = 1 if QUICK else 3
N_ROWS = 500 if QUICK else 4_000
EPOCHS = 2 if QUICK else 8


def models() -> dict:
    net = {"module__hidden_units": (64, 64), "batch_size": 128, "max_epochs": EPOCHS}
    return {
        "mlp": NeuralNetClassifier(**net),
        "mlp_dropout": NeuralNetClassifier(module__dropout=0.1, **net),
    }


def main() -> None:
    X, y = make_classification(
        n_samples=N_ROWS, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    X = StandardScaler().fit_transform(X).astype(np.float32)
    cv = KFold(5, shuffle=True, random_state=0)
    warnings.simplefilter("ignore", ConvergenceWarning)  # few epochs, on purpose
    times = {"study": [], "compare_models": [], "compare_models, joblib": []}
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            study = Experiment(models(), X, y, cv=cv, random_state=0, verbose=0)
            study.run(folder)
            times["study"].append(time.perf_counter() - start)
            records = study.results
        start = time.perf_counter()
        table = compare_models(models(), X, y, cv=cv, random_state=0)
        times["compare_models"].append(time.perf_counter() - start)
        start = time.perf_counter()
        compare_models(models(), X, y, cv=cv, random_state=0, engine="joblib")
        times["compare_models, joblib"].append(time.perf_counter() - start)
    worst = 0.0
    for row in table:
        ours = records[records["model"] == row.name].sort_values("fold")["score"].to_numpy()
        worst = max(worst, float(np.max(np.abs(ours - row.scores))))
    study_time = statistics.median(times["study"])
    print("ensemblekit compare_models against a study of the same models and folds")
    print(f"{N_ROWS} rows, 2 nets x 5 folds, {EPOCHS} epochs, median of {ROUNDS}")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"{name:24s} {median:6.2f} s  {median / study_time:5.2f}x the study's time")
    print(f"largest fold-score difference from the study: {worst:.3g}")


if __name__ == "__main__":
    main()
