"""Training K bagged nets: stacked vs one by one, scikit-learn, torchensemble, bmm; in parallel.

    python benchmarks/bench_ensemble_speed.py                  # CPU, K=10 and K=32
    python benchmarks/bench_ensemble_speed.py --device cuda    # GPU, 200k rows, K=10 and 100
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_ensemble_speed.py

Workload: make_classification(n_informative=10, n_classes=3, 20 features), 80/20 split, K
bootstrap members, MLPs 20-64-64-3 (ensemblekit's MLP class for all), Adam 1e-3, 10
epochs; batch 256 on the CPU (16k training rows), 1024 on the GPU. Every contender gets the
same torch threads (``--threads``, default 1) and is warmed up first:

- ensemblekit BaggingClassifier, engine="vectorized" (stacked) and engine="joblib";
- scikit-learn BaggingClassifier(skorch.NeuralNetClassifier);
- torchensemble BaggingClassifier (optional; `make bench` installs it);
- ensemblekit stacked with ``precision="bf16-mixed"``;
- a hand-written batched baseline: the K members' weights stacked, ``baddbmm``, one
  bootstrap per member, Adam over the stacked tensors (what one would write by hand);
- on a GPU also: that step captured once in a CUDA graph and replayed, and the stacked
  engine and the graphed step with TF32 matrix products.

Then a small CNN on digits; prediction latency of a 100-member ensemble against one
batched forward (10 rows to 50k); and on the CPU, at the largest K: stacked with n_jobs=2
and on a 2-worker Dask LocalCluster against n_jobs=1, and the peak host memory of K=100
stacked members on 50k rows (in a fresh process). Prints wall times (medians of 3 for the
fast contenders), test accuracy and ratios. On a GPU the one-by-one contenders run at K=2
above K=10, scaled to K (marked ≈).
"""

import argparse
import contextlib
import io
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import sklearn.ensemble
import skorch
import torch
import torch.nn.functional as F
from _workload import DigitsCNN, digits_split, three_class_split
from torch import nn

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
EPOCHS = 2 if QUICK else 10
MODULE_ARGS = {"n_features": 20, "n_outputs": 3, "hidden_units": (64, 64)}
SLOW = ("ensemblekit joblib", "sklearn Bagging(skorch)", "torchensemble Bagging")


class VmapMLP(MLP):
    """ensemblekit's MLP, trained stacked through torch.func.vmap rather than baddbmm."""


def our_bagging(
    k, engine, device, batch, threads, n_jobs=None, epochs=EPOCHS, module=MLP,
    precision="32-true",
):  # fmt: skip
    kwargs = {"module__hidden_units": (64, 64)} if issubclass(module, MLP) else {}
    net = NeuralNetClassifier(
        module=module, lr=1e-3, batch_size=batch, max_epochs=epochs, device=device,
        n_threads=threads, precision=precision, **kwargs,
    )  # fmt: skip
    return BaggingClassifier(net, n_estimators=k, random_state=0, engine=engine, n_jobs=n_jobs)


def ours(X, y, X_test, k, engine, device, batch, threads, n_jobs=None, module=MLP, **kwargs):
    bag = our_bagging(k, engine, device, batch, threads, n_jobs, module=module, **kwargs)
    return bag.fit(X, y).predict(X_test)


def sklearn_skorch(X, y, X_test, k, device, batch, module=MLP, module_args=MODULE_ARGS):
    net = skorch.NeuralNetClassifier(
        module, **{f"module__{name}": v for name, v in module_args.items()},
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


def batched_baseline(X, y, X_test, k, device, batch, graphed=False):
    """K MLPs as stacked weights trained with baddbmm, each on its own bootstrap.

    ``graphed`` (CUDA only): the step (gather, forward, loss, backward, Adam) is captured
    once in a CUDA graph and replayed; each epoch's last partial batch is left out there.
    """
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

    # foreach as our engine uses; a graph needs a capturable optimizer.
    optimizer = torch.optim.Adam(params, lr=1e-3, foreach=True, capturable=graphed)
    rows = torch.randint(0, n, (k, n), generator=generator).to(device)
    Xs, ys, members = X[rows], y[rows], torch.arange(k, device=device)[:, None]

    def step(index):
        output = forward(Xs[members, index])
        loss = F.cross_entropy(output.flatten(0, 1), ys[members, index].flatten(), reduction="none")
        optimizer.zero_grad(set_to_none=False if graphed else True)
        loss.view(k, -1).mean(1).sum().backward()
        optimizer.step()

    if graphed:
        index = torch.zeros((k, batch), dtype=torch.long, device=device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up outside the graph, as torch's docs show
            for _ in range(3):
                step(index)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            step(index)
    for _ in range(EPOCHS):
        order = torch.argsort(torch.rand(k, n, generator=generator), dim=1).to(device)
        for start in range(0, n - batch + 1 if graphed else n, batch):
            if graphed:
                index.copy_(order[:, start : start + batch])
                graph.replay()
            else:
                step(order[:, start : start + batch])
    with torch.no_grad():
        X_test = torch.as_tensor(X_test, device=device).expand(k, -1, -1)
        return forward(X_test).softmax(-1).mean(0).argmax(1).cpu().numpy()


@contextlib.contextmanager
def tf32():
    """TF32 matrix products for the block, as a user turns them on (torch's own setting)."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def timed(run, repeats: int, gpu: bool):
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        if gpu:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def parallel_rows(X, y, X_test, y_test, k, device, batch, threads, repeats):
    """Stacked training across workers: n_jobs=2 and a 2-worker Dask cluster vs n_jobs=1."""
    import joblib

    def fit(n_jobs):
        return lambda: ours(X, y, X_test, k, "vectorized", device, batch, threads, n_jobs)

    one, _ = timed(fit(1), repeats, False)
    two, pred = timed(fit(2), repeats, False)
    print(f"K={k:<3} stacked, n_jobs=1                  {one:8.2f} s")
    print(f"K={k:<3} stacked, n_jobs=2                  {two:8.2f} s  accuracy "
          f"{np.mean(pred == y_test):.4f}  {one / two:.2f}x faster than n_jobs=1")  # fmt: skip
    try:
        import distributed
    except ImportError:
        print("(dask.distributed not installed: no cluster row)")
        return
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        client.run(torch.set_num_threads, threads)
        fit(None)()  # warm-up: the workers import torch and ensemblekit
        with distributed.get_task_stream(client) as tasks:
            dask, pred = timed(fit(None), repeats, False)
    print(f"K={k:<3} stacked, Dask LocalCluster (2 workers) {dask:6.2f} s  accuracy "
          f"{np.mean(pred == y_test):.4f}  {one / dask:.2f}x faster than n_jobs=1, "
          f"{len(tasks.data) // repeats} tasks per fit on the cluster")  # fmt: skip


def peak_memory(k: int, n_rows: int, batch: int) -> None:
    """Run in a fresh process: peak host memory of one stacked fit of K members."""
    X, _, y, _ = three_class_split(n_rows)
    bag = our_bagging(k, "vectorized", "cpu", batch, 1, epochs=1)
    our_bagging(2, "vectorized", "cpu", batch, 1, epochs=1).fit(X[:512], y[:512])
    before = _rss_mb()
    bag.fit(X, y)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before
    weights = sum(p.numel() * 4 for m in bag for p in m.module_.parameters()) / 2**20
    rows = sum(len(r) * 8 for r in bag.estimators_samples_) / 2**20
    x_mb = X.nbytes / 2**20
    print(f"K={k} members, {len(X)} rows: peak host memory of the fit {peak:.1f} MB; one copy "
          f"of X {x_mb:.1f} MB, the members' weights {weights:.1f} MB: peak = "
          f"{peak / (x_mb + weights):.2f}x (X + weights); the plans' row indices "
          f"alone are {rows:.1f} MB")  # fmt: skip


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


def prediction_rows(X, y, X_test, batch, threads, device, gpu: bool):
    """A 100-member ensemble's predict_proba against one net and one batched forward of
    all members (the floor: no validation, no chunks, the mean on the device)."""
    bag = our_bagging(100 if not QUICK else 4, "vectorized", device, batch, threads, epochs=1)
    bag.fit(X[:2000], y[:2000])
    one = bag[0]
    params = {
        name: torch.stack([m.module_.get_parameter(name).detach() for m in bag])
        for name, _ in one.module_.named_parameters()
    }

    def batched_forward(rows):
        with torch.no_grad():
            h = torch.as_tensor(rows, device=device).expand(len(bag), -1, -1)
            for position in (0, 2, 4):
                weight = params[f"layers.{position}.weight"].transpose(1, 2)
                h = torch.baddbmm(params[f"layers.{position}.bias"][:, None], h, weight)
                h = h.relu() if position < 4 else h.softmax(-1)
            return h.mean(0).cpu().numpy()

    X_all = np.concatenate([X_test, X])
    sizes = [n for n in ([1000, 50_000] if gpu else [1000, 3000, 20_000]) if n <= len(X_all)]
    for n_rows, reference, label in [
        (10, lambda rows: one.predict_proba(rows), "one net's predict_proba"),
        *[(n, batched_forward, "one batched forward of all members") for n in sizes],
    ]:
        rows = X_all[:n_rows]
        repeats = 3 if n_rows > 10_000 else 20
        ens, _ = timed(lambda rows=rows: bag.predict_proba(rows), repeats, gpu)
        ref, _ = timed(lambda rows=rows, reference=reference: reference(rows), repeats, gpu)
        print(f"predict_proba of {len(bag)} members on {len(rows)} rows: {ens * 1e3:.2f} ms, "
              f"{label} {ref * 1e3:.2f} ms: {ens / ref:.2f}x")  # fmt: skip


def cnn_rows(device, threads, sizes, gpu: bool):
    """A custom module: a small CNN (DigitsCNN) on the 8x8 digits, batch 32."""
    X, X_test, y, y_test = digits_split()
    batch, args = 32, {"n_features": 64, "n_outputs": 10}
    contenders = {
        "ensemblekit vectorized": lambda *a: ours(
            *a, "vectorized", device, batch, threads, module=DigitsCNN
        ),
        "ensemblekit joblib": lambda *a: ours(
            *a, "joblib", device, batch, threads, module=DigitsCNN
        ),
        "sklearn Bagging(skorch)": lambda *a: sklearn_skorch(
            *a, device, batch, module=DigitsCNN, module_args=args
        ),
    }
    print(f"\nDigitsCNN (conv 3x3 x8, max-pool, 128-32-10, dropout 0.25), {len(X)} training "
          f"rows, {EPOCHS} epochs, batch {batch}\n")  # fmt: skip
    for run in contenders.values():
        run(X[:256], y[:256], X_test[:8], 2)
    time_table(contenders, (X, y, X_test, y_test), sizes, gpu)


def time_table(contenders, data, sizes, gpu: bool) -> None:
    """Each contender's time and accuracy at each K, and its ratio to the stacked engine's.

    The fast contenders are timed 3 times (median); the slow ones once.
    """
    X, y, X_test, y_test = data
    for k in sizes:
        times = {}
        for name, run in contenders.items():
            repeats = 1 if name in SLOW or QUICK else 3
            scaled = gpu and name in SLOW and k > 10  # one by one on a GPU: K=2, scaled
            fitted = 2 if scaled else k
            seconds, pred = timed(lambda run=run, k=fitted: run(X, y, X_test, k), repeats, gpu)
            times[name] = seconds * k / fitted
            accuracy = "" if scaled else f"accuracy {np.mean(pred == y_test):.4f}"
            mark = "≈" if scaled else " "
            print(f"K={k:<3} {name:36s} {mark}{times[name]:8.2f} s  {accuracy}")
        reference = times["ensemblekit vectorized"]
        for name, seconds in times.items():
            if name != "ensemblekit vectorized":
                print(f"      vectorized vs {name:36s} {seconds / reference:6.2f}x faster")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--memory", nargs=3, type=int, metavar=("K", "ROWS", "BATCH"))
    args = parser.parse_args()
    if args.memory:
        torch.set_num_threads(1)
        return peak_memory(*args.memory)
    gpu = args.device.startswith("cuda")
    n_rows, batch, sizes = (250_000, 1024, (10, 100)) if gpu else (20_000, 256, (10, 32))
    if QUICK:
        n_rows, sizes = 3000, (3,)
    torch.set_num_threads(args.threads)
    X_train, X_test, y_train, y_test = three_class_split(n_rows)
    device, threads = args.device, args.threads

    contenders = {
        "ensemblekit vectorized": lambda *a: ours(*a, "vectorized", device, batch, threads),
        "ensemblekit joblib": lambda *a: ours(*a, "joblib", device, batch, threads),
        "ensemblekit vectorized, vmap": lambda *a: ours(
            *a, "vectorized", device, batch, threads, module=VmapMLP
        ),
        "ensemblekit vectorized, bf16-mixed": lambda *a: ours(
            *a, "vectorized", device, batch, threads, precision="bf16-mixed"
        ),
        "hand-written batched (bmm)": lambda *a: batched_baseline(*a, device, batch),
        "sklearn Bagging(skorch)": lambda *a: sklearn_skorch(*a, device, batch),
    }
    if gpu:
        contenders["hand-written, CUDA graph"] = lambda *a: batched_baseline(
            *a, device, batch, graphed=True
        )
        for name in ("ensemblekit vectorized", "hand-written, CUDA graph"):
            run = contenders[name]

            def with_tf32(*a, run=run):
                with tf32():
                    return run(*a)

            contenders[f"{name}, TF32"] = with_tf32
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

    time_table(contenders, (X_train, y_train, X_test, y_test), sizes, gpu)
    cnn_rows(device, threads, sizes, gpu)
    prediction_rows(X_train, y_train, X_test, batch, threads, device, gpu)
    if gpu:
        return
    parallel_rows(
        X_train, y_train, X_test, y_test, sizes[-1], device, batch, threads, 1 if QUICK else 3
    )
    k, rows = (4, 3000) if QUICK else (100, 50_000)
    memory = [sys.executable, __file__, "--memory", str(k), str(rows), str(batch)]
    print(subprocess.run(memory, capture_output=True, text=True, check=True).stdout.strip())


if __name__ == "__main__":
    main()
