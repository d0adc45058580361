"""Bagging 10 nets: ensemblekit vs scikit-learn Bagging(skorch net) vs torchensemble.

    python benchmarks/bench_bagging.py          # the full workload, a few minutes
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_bagging.py

Workload: make_classification(20000, 20, n_informative=10, n_classes=3), 80/20 split,
10 MLPs 20-64-64-3 (ensemblekit's MLP class for all), Adam 1e-3, batch 256, 10 epochs,
at n_jobs=1 and 2. Every contender runs as a user would run it (torch's default threads in
the main process; ensemblekit's nets pin one thread each), on warm joblib workers; the cold
start of a session's first parallel call is printed apart. Prints wall time, test accuracy
and the ratios.
torchensemble is optional (`make bench` installs it with --no-deps: it declares torchvision,
which it never imports).
"""

import logging
import os
import time

import numpy as np
import sklearn.ensemble
import skorch
import torch
from _workload import three_class_split
from torch import nn

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_ROWS, EPOCHS, MEMBERS = (4000, 2, 4) if QUICK else (20000, 10, 10)
JOBS = (1,) if QUICK else (1, 2)  # quick mode: a smoke test without worker start-up


# Every contender trains the same module class: importable, so loky workers can unpickle it.
MODULE_ARGS = {"n_features": 20, "n_outputs": 3, "hidden_units": (64, 64)}


def ours(X, y, X_test, n_jobs, epochs=EPOCHS):
    net = NeuralNetClassifier(
        module__hidden_units=(64, 64), lr=1e-3, batch_size=256, max_epochs=epochs
    )
    # The joblib engine: this script measures it (bench_ensemble_speed.py the vectorized one).
    bag = BaggingClassifier(
        net, n_estimators=MEMBERS, n_jobs=n_jobs, random_state=0, engine="joblib"
    )
    return bag.fit(X, y).predict(X_test)


def sklearn_skorch(X, y, X_test, n_jobs, epochs=EPOCHS):
    net = skorch.NeuralNetClassifier(
        MLP,
        **{f"module__{k}": v for k, v in MODULE_ARGS.items()},
        criterion=nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        batch_size=256,
        max_epochs=epochs,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    bag = sklearn.ensemble.BaggingClassifier(
        net, n_estimators=MEMBERS, n_jobs=n_jobs, random_state=0
    )
    return bag.fit(X, y).predict(X_test)


def torchensemble_bagging(X, y, X_test, n_jobs, epochs=EPOCHS):
    from torchensemble import BaggingClassifier as TorchEnsembleBagging

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
        batch_size=256,
        shuffle=True,
    )
    model = TorchEnsembleBagging(
        MLP, n_estimators=MEMBERS, estimator_args=MODULE_ARGS, cuda=False, n_jobs=n_jobs
    )
    model.set_optimizer("Adam", lr=1e-3)
    model.fit(loader, epochs=epochs, log_interval=10**9, save_model=False)
    with torch.no_grad():
        return model.predict(torch.as_tensor(X_test)).argmax(1).numpy()


def main():
    logging.getLogger().setLevel(logging.WARNING)  # torchensemble logs every batch otherwise
    X_train, X_test, y_train, y_test = three_class_split(N_ROWS)

    contenders = {"ensemblekit": ours, "sklearn Bagging(skorch)": sklearn_skorch}
    try:
        import torchensemble  # noqa: F401

        contenders["torchensemble Bagging"] = torchensemble_bagging
    except ImportError:
        print("(torchensemble not installed: `make bench` installs it)")

    print(
        f"{MEMBERS} MLPs 20-64-64-3, {len(X_train)} training rows, {EPOCHS} epochs, batch 256; "
        f"torch {torch.__version__}, {torch.get_num_threads()} torch threads by default\n"
    )
    # A fresh process pays for importing torch and, at its first optimizer, torch._dynamo
    # (~3 s here). Measure that once, then warm every contender's workers, as in a session.
    start = time.perf_counter()
    ours(X_train, y_train, X_test, n_jobs=JOBS[-1])
    cold = time.perf_counter() - start
    for run in contenders.values():
        for n_jobs in JOBS:
            run(X_train[:512], y_train[:512], X_test[:8], n_jobs, epochs=1)

    times = {}
    for n_jobs in JOBS:
        for name, run in contenders.items():
            start = time.perf_counter()
            pred = run(X_train, y_train, X_test, n_jobs)
            times[name, n_jobs] = time.perf_counter() - start
            accuracy = np.mean(pred == y_test)
            print(f"n_jobs={n_jobs}  {name:24s} {times[name, n_jobs]:7.2f} s  acc {accuracy:.4f}")
        for name in contenders:
            if name != "ensemblekit":
                ratio = times[name, n_jobs] / times["ensemblekit", n_jobs]
                print(f"           ensemblekit is {ratio:5.2f}x faster than {name}")
        print()
    if 2 in JOBS:
        speedup = times["ensemblekit", 1] / times["ensemblekit", 2]
        print(f"ensemblekit n_jobs=2 vs n_jobs=1 (warm workers): {speedup:.2f}x")
        print(f"ensemblekit n_jobs=2, first call of a fresh session (cold workers): {cold:.2f} s")


if __name__ == "__main__":
    main()
