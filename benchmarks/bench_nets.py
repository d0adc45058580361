"""Our net vs skorch's NeuralNetClassifier vs a plain torch loop: same data, model, epochs.

    python benchmarks/bench_nets.py            # the full run (about a minute on 2 cores)
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_nets.py

Each contender trains the same MLP (same class, same seed) with Adam and cross-entropy on
the same rows, on one torch thread, without a validation split; the median of several
repeats is reported with its ratio to the plain loop.
"""

import argparse
import os
import statistics
import time

import numpy as np
import skorch
import torch
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import StandardScaler

from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"


def plain_loop(X, y, hidden, epochs, batch_size, lr, seed):
    """The least a user could write: tensors, one randperm per epoch, slices, Adam."""
    generator = torch.Generator().manual_seed(seed)
    X_t, y_t = torch.as_tensor(X), torch.as_tensor(y)
    module = MLP(X.shape[1], int(y.max()) + 1, hidden_units=hidden, random_state=seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    module.train()
    for _ in range(epochs):
        order = torch.randperm(len(X_t), generator=generator)
        for start in range(0, len(X_t), batch_size):
            idx = order[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(module(X_t[idx]), y_t[idx]).backward()
            optimizer.step()
    module.eval()
    with torch.no_grad():
        return module(X_t).argmax(1).numpy()


def skorch_net(X, y, hidden, epochs, batch_size, lr, seed):
    torch.manual_seed(seed)
    net = skorch.NeuralNetClassifier(
        MLP,
        module__n_features=X.shape[1],
        module__n_outputs=int(y.max()) + 1,
        module__hidden_units=hidden,
        module__random_state=seed,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=lr,
        max_epochs=epochs,
        batch_size=batch_size,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
    )
    return net.fit(X, y).predict(X)


def ensemblekit_net(X, y, hidden, epochs, batch_size, lr, seed):
    net = NeuralNetClassifier(
        module__hidden_units=hidden,
        lr=lr,
        max_epochs=epochs,
        batch_size=batch_size,
        random_state=seed,
    )
    return net.fit(X, y).predict(X)


CONTENDERS = {"plain torch loop": plain_loop, "skorch": skorch_net, "ensemblekit": ensemblekit_net}


def workloads():
    X, y = make_classification(
        n_samples=4000 if QUICK else 16000,
        n_features=20,
        n_informative=10,
        n_classes=3,
        random_state=0,
    )
    digits_X, digits_y = load_digits(return_X_y=True)
    yield (
        "make_classification 16k x 20, MLP 64-64, batch 256, 10 epochs",
        StandardScaler().fit_transform(X).astype(np.float32),
        y.astype(np.int64),
        {"hidden": (64, 64), "epochs": 2 if QUICK else 10, "batch_size": 256, "lr": 1e-3},
    )
    yield (
        "load_digits 1797 x 64, MLP 100, batch 32, 20 epochs (many tiny steps)",
        (digits_X / 16).astype(np.float32),
        digits_y.astype(np.int64),
        {"hidden": (100,), "epochs": 2 if QUICK else 20, "batch_size": 32, "lr": 1e-3},
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=1 if QUICK else 5)
    args = parser.parse_args()
    torch.set_num_threads(1)  # ours pins one thread; give every contender the same
    print(f"torch {torch.__version__}, skorch {skorch.__version__}, 1 torch thread\n")
    for title, X, y, cfg in workloads():
        print(title)
        times = {}
        for name, fit in CONTENDERS.items():
            fit(X[:256], y[:256], cfg["hidden"], 1, cfg["batch_size"], cfg["lr"], 0)  # warm-up
            runs = []
            for rep in range(args.repeats):
                start = time.perf_counter()
                pred = fit(X, y, cfg["hidden"], cfg["epochs"], cfg["batch_size"], cfg["lr"], rep)
                runs.append(time.perf_counter() - start)
            times[name] = statistics.median(runs)
            print(f"  {name:18s} {times[name]:7.3f} s   train accuracy {np.mean(pred == y):.3f}")
        base = times["plain torch loop"]
        print(f"  ratio skorch / plain loop       {times['skorch'] / base:5.2f}")
        print(f"  ratio ensemblekit / plain loop  {times['ensemblekit'] / base:5.2f}")
        print(f"  ratio ensemblekit / skorch      {times['ensemblekit'] / times['skorch']:5.2f}\n")


if __name__ == "__main__":
    main()
