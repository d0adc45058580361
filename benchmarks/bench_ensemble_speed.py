"""Training K bagged nets: the vectorized engine vs joblib, scikit-learn, torchensemble, bmm.

    python benchmarks/bench_ensemble_speed.py                  # CPU, K=10 and K=32
    python benchmarks/bench_ensemble_speed.py --device cuda    # GPU, 200k rows, K=10 and 50
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_ensemble_speed.py

Workload (the speed issue's): make_classification(n_informative=10, n_classes=3, 20
features), 80/20 split, K bootstrap members, MLPs 20-64-64-3 (ensemblekit's MLP class for
all), Adam 1e-3, 10 epochs; batch 256 on the CPU (16k training rows), 1024 on the GPU.
Contenders, each at n_jobs=1 in this process, warmed up first:

- ensemblekit BaggingClassifier, engine="vectorized" and engine="joblib";
- scikit-learn BaggingClassifier(skorch.NeuralNetClassifier);
- torchensemble BaggingClassifier (optional; `make bench` installs it);
- a hand-written batched baseline: the K members' weights stacked, ``baddbmm``, one
  bootstrap per member, Adam over the stacked tensors (what one would write by hand).

Every contender gets the same torch threads (``--threads``, default all cores). Prints wall
time (the median of 3 runs for the vectorized engine and the baseline), test accuracy and
the ratios against the vectorized engine.
"""

import argparse
import contextlib
import io
import math
import os
import statistics
import time

import numpy as np
import sklearn.ensemble
import skorch
import torch
import torch.nn.functional as F
from _workload import three_class_split
from torch import nn

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
EPOCHS = 2 if QUICK else 10
MODULE_ARGS = {"n_features": 20, "n_outputs": 3, "hidden_units": (64, 64)}
SLOW = ("ensemblekit joblib", "sklearn Bagging(skorch)", "torchensemble Bagging")


def ours(X, y, X_test, k, engine, device, batch, threads):
    net = NeuralNetClassifier(
        module__hidden_units=(64, 64), lr=1e-3, batch_size=batch, max_epochs=EPOCHS,
        device=device, n_threads=threads,
    )  # fmt: skip
    bag = BaggingClassifier(net, n_estimators=k, random_state=0, engine=engine)
    return bag.fit(X, y).predict(X_test)


def sklearn_skorch(X, y, X_test, k, device, batch):
    net = skorch.NeuralNetClassifier(
        MLP, **{f"module__{name}": v for name, v in MODULE_ARGS.items()},
        criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3, batch_size=batch,
        max_epochs=EPOCHS, iterator_train__shuffle=True, train_split=None, verbose=0,
        device=device,
    )  # fmt: skip
    bag = sklearn.ensemble.BaggingClassifier(net, n_estimators=k, random_state=0)
    return bag.fit(X, y).predict(X_test)


def torchensemble_bagging(X, y, X_test, k, device, batch):
    from torchensemble import BaggingClassifier as TorchEnsembleBagging

    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.as_tensor(X), torch.as_tensor(y)),
        batch_size=batch,
        shuffle=True,
    )
    model = TorchEnsembleBagging(
        MLP, n_estimators=k, estimator_args=MODULE_ARGS, cuda=device == "cuda", n_jobs=1
    )
    model.set_optimizer("Adam", lr=1e-3)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its first batch of each epoch
        model.fit(loader, epochs=EPOCHS, log_interval=10**9, save_model=False)
    with torch.no_grad():
        return model.predict(torch.as_tensor(X_test)).argmax(1).cpu().numpy()


def batched_baseline(X, y, X_test, k, device, batch):
    """K MLPs as stacked weights trained with baddbmm, each on its own bootstrap."""
    generator = torch.Generator().manual_seed(0)
    X, y = torch.as_tensor(X, device=device), torch.as_tensor(y, device=device)
    n = len(X)

    def layer(n_in, n_out):
        bound = 1 / math.sqrt(n_in)
        weight = torch.empty(k, n_in, n_out).uniform_(-bound, bound, generator=generator)
        bias = torch.empty(k, 1, n_out).uniform_(-bound, bound, generator=generator)
        return [weight.to(device).requires_grad_(), bias.to(device).requires_grad_()]

    params = layer(20, 64) + layer(64, 64) + layer(64, 3)

    def forward(h):
        h = torch.relu(torch.baddbmm(params[1], h, params[0]))
        h = torch.relu(torch.baddbmm(params[3], h, params[2]))
        return torch.baddbmm(params[5], h, params[4])

    optimizer = torch.optim.Adam(params, lr=1e-3, foreach=True)  # as our engine uses
    rows = torch.randint(0, n, (k, n), generator=generator).to(device)
    Xs, ys, members = X[rows], y[rows], torch.arange(k, device=device)[:, None]
    for _ in range(EPOCHS):
        order = torch.argsort(torch.rand(k, n, generator=generator), dim=1).to(device)
        for start in range(0, n, batch):
            index = order[:, start : start + batch]
            output = forward(Xs[members, index])
            loss = F.cross_entropy(
                output.flatten(0, 1), ys[members, index].flatten(), reduction="none"
            )
            optimizer.zero_grad(set_to_none=True)
            loss.view(k, -1).mean(1).sum().backward()
            optimizer.step()
    with torch.no_grad():
        X_test = torch.as_tensor(X_test, device=device).expand(k, -1, -1)
        return forward(X_test).softmax(-1).mean(0).argmax(1).cpu().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    gpu = args.device.startswith("cuda")
    n_rows, batch, sizes = (250_000, 1024, (10, 50)) if gpu else (20_000, 256, (10, 32))
    if QUICK:
        n_rows, sizes = 3000, (3,)
    torch.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = three_class_split(n_rows)
    device, threads = args.device, args.threads

    contenders = {
        "ensemblekit vectorized": lambda *a: ours(*a, "vectorized", device, batch, threads),
        "ensemblekit joblib": lambda *a: ours(*a, "joblib", device, batch, threads),
        "hand-written batched (bmm)": lambda *a: batched_baseline(*a, device, batch),
        "sklearn Bagging(skorch)": lambda *a: sklearn_skorch(*a, device, batch),
    }
    try:
        import torchensemble  # noqa: F401

        contenders["torchensemble Bagging"] = lambda *a: torchensemble_bagging(*a, device, batch)
    except ImportError:
        print("(torchensemble not installed: `make bench` installs it)")
    print(
        f"MLPs 20-64-64-3, {len(X_train)} training rows, {EPOCHS} epochs, batch {batch}, "
        f"device {device}, {threads} torch threads, n_jobs=1; torch {torch.__version__}\n"
    )
    for run in contenders.values():  # warm-up: imports, torch._dynamo, allocator
        run(X_train[:512], y_train[:512], X_test[:8], 2)

    for k in sizes:
        times = {}
        for name, run in contenders.items():
            runs = []
            # The fast contenders are timed 3 times (median); the slow ones once.
            for _ in range(1 if name in SLOW or QUICK else 3):
                start = time.perf_counter()
                pred = run(X_train, y_train, X_test, k)
                if gpu:
                    torch.cuda.synchronize()
                runs.append(time.perf_counter() - start)
            times[name] = statistics.median(runs)
            accuracy = np.mean(pred == y_test)
            print(f"K={k:<3} {name:28s} {times[name]:8.2f} s  accuracy {accuracy:.4f}")
        reference = times["ensemblekit vectorized"]
        for name, seconds in times.items():
            if name != "ensemblekit vectorized":
                print(f"      vectorized vs {name:28s} {seconds / reference:6.2f}x faster")
        print()


if __name__ == "__main__":
    main()
