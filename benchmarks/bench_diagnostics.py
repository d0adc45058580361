"""What the training monitors cost: one net's fit with and without them.

    python benchmarks/bench_diagnostics.py
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_diagnostics.py

Workload of the speed benchmark (bench_ensemble_speed.py) for one member:
make_classification(20 features, 10 informative, 3 classes), 16k training rows, an MLP
20-64-64-3, Adam 1e-3, batch 256, 10 epochs, one torch thread, no validation split. Each
configuration is fitted once per round, in turn, over many rounds; each fit is compared
with the fit without monitors of its own round (the machine's speed drifts between rounds,
not within one), and the median of these ratios is reported with the fastest times.
"""

import os
import statistics
import time

from _workload import three_class_split

from ensemblekit.diagnostics import ActivationMonitor, GradientMonitor, UpdateRatioMonitor
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
REPEATS = 1 if QUICK else 21
EPOCHS = 2 if QUICK else 10

CONFIGS = {
    "no monitor": [],
    "GradientMonitor": [GradientMonitor],
    "UpdateRatioMonitor": [UpdateRatioMonitor],
    "ActivationMonitor": [ActivationMonitor],
    "all three": [GradientMonitor, UpdateRatioMonitor, ActivationMonitor],
}


def fit_seconds(X, y, monitors) -> float:
    net = NeuralNetClassifier(
        module__hidden_units=(64, 64), lr=1e-3, batch_size=256, max_epochs=EPOCHS,
        n_threads=1, random_state=0, callbacks=[make() for make in monitors],
    )  # fmt: skip
    start = time.perf_counter()
    net.fit(X, y)
    return time.perf_counter() - start


def main() -> None:
    X, _, y, _ = three_class_split(1_000 if QUICK else 20_000)
    fit_seconds(X, y, [])  # warm up
    times = {name: [] for name in CONFIGS}
    for _ in range(REPEATS):  # in turn, so that a slow spell of the machine hits all alike
        for name, monitors in CONFIGS.items():
            times[name].append(fit_seconds(X, y, monitors))
    print("ensemblekit training monitors: what they add to one net's fit")
    print(f"{len(X)} rows, {EPOCHS} epochs, {REPEATS} rounds, 1 torch thread")
    print(f"{'configuration':20s} {'fastest':>7s} {'median overhead':>16s}")
    for name, seconds in times.items():
        ratios = [t / base for t, base in zip(seconds, times["no monitor"], strict=True)]
        print(f"{name:20s} {min(seconds):7.3f} {100 * (statistics.median(ratios) - 1):15.1f}%")


if __name__ == "__main__":
    main()
