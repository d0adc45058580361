"""A snapshot ensemble costs one training run: ensemblekit vs one net vs torchensemble.

    python benchmarks/bench_snapshots.py          # about a minute
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_snapshots.py

Workload: make_classification(20000, 20, n_informative=10, n_classes=3), 80/20 split, an
MLP 20-64-64-3 (ensemblekit's MLP class for all), Adam with lr 1e-2 (the top of each
cosine cycle), batch 256, 20 epochs, 5 snapshots, one torch thread. Prints the median of
3 fits of: one net trained once (no snapshots), ensemblekit's SnapshotEnsembleClassifier,
and torchensemble's SnapshotEnsembleClassifier (optional: `make bench` installs it), their
test accuracy and log loss, and the ratios.
"""

import contextlib
import io
import logging
import os
import statistics
import time

import numpy as np
import torch
from _workload import three_class_split
from sklearn.metrics import accuracy_score, log_loss

from ensemblekit.ensemble import SnapshotEnsembleClassifier
from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_ROWS, EPOCHS, REPEATS = (4000, 5, 1) if QUICK else (20000, 20, 3)
SNAPSHOTS = 5
MODULE_ARGS = {"n_features": 20, "n_outputs": 3, "hidden_units": (64, 64)}


def _net():
    return NeuralNetClassifier(
        module__hidden_units=(64, 64), lr=1e-2, batch_size=256, max_epochs=EPOCHS, random_state=0
    )


def one_net(X, y, X_test):
    return _net().fit(X, y).predict_proba(X_test)


def ours(X, y, X_test):
    ensemble = SnapshotEnsembleClassifier(_net(), n_estimators=SNAPSHOTS, random_state=0)
    return ensemble.fit(X, y).predict_proba(X_test)


def torchensemble_snapshots(X, y, X_test):
    from torchensemble import SnapshotEnsembleClassifier as TorchEnsembleSnapshots

    torch.manual_seed(0)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
        batch_size=256,
        shuffle=True,
    )
    model = TorchEnsembleSnapshots(
        estimator=MLP, n_estimators=SNAPSHOTS, estimator_args=MODULE_ARGS, cuda=False
    )
    model.set_optimizer("Adam", lr=1e-2)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "None" at every snapshot
        model.fit(loader, epochs=EPOCHS, log_interval=10**9, save_model=False)
    with torch.no_grad():  # its predict returns the averaged softmax, in float32
        proba = model.predict(torch.as_tensor(X_test)).numpy().astype(np.float64)
    return proba / proba.sum(axis=1, keepdims=True)


def main():
    logging.getLogger().setLevel(logging.WARNING)  # torchensemble logs every batch otherwise
    torch.set_num_threads(1)  # as our nets pin; the peer then runs under the same terms
    X_train, X_test, y_train, y_test = three_class_split(N_ROWS)

    contenders = {"one net": one_net, "ensemblekit snapshots": ours}
    try:
        import torchensemble  # noqa: F401

        contenders["torchensemble snapshots"] = torchensemble_snapshots
    except ImportError:
        print("(torchensemble not installed: `make bench` installs it)")
    print(
        f"MLP 20-64-64-3, {len(X_train)} training rows, {EPOCHS} epochs, batch 256, "
        f"{SNAPSHOTS} snapshots; torch {torch.__version__}, 1 thread; median of {REPEATS}\n"
    )
    one_net(X_train[:512], y_train[:512], X_test[:8])  # warm up torch

    times = {}
    for name, run in contenders.items():
        runs = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            proba = run(X_train, y_train, X_test)
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs)
        accuracy = accuracy_score(y_test, proba.argmax(axis=1))
        loss = log_loss(y_test, proba, labels=[0, 1, 2])
        print(f"{name:24s} {times[name]:7.2f} s  accuracy {accuracy:.4f}  log loss {loss:.4f}")
    print()
    print(
        f"ensemblekit snapshots / one net: {times['ensemblekit snapshots'] / times['one net']:.2f}"
    )
    if "torchensemble snapshots" in times:
        ratio = times["torchensemble snapshots"] / times["ensemblekit snapshots"]
        print(f"ensemblekit snapshots are {ratio:.2f}x faster than torchensemble's")


if __name__ == "__main__":
    main()
