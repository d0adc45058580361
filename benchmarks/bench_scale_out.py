"""Stacked bagging across workers: n_jobs=2, a Dask LocalCluster and Ray against n_jobs=1.

    python benchmarks/bench_scale_out.py                # 2 workers (and 4 with 4+ cores)
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_scale_out.py

Workload: K=32 bagged MLPs 64-64 (engine="vectorized") on make_classification (8,000
training rows, 20 features, 3 classes), Adam 1e-3, batch 256, 4 epochs; each net keeps its
default single torch thread. Contenders, W workers each, each alone on the machine (its
cluster started for its rounds only) and timed in alternation with ``n_jobs=1`` over
``--repeats`` rounds after a warm-up round:

- ``n_jobs=W`` on joblib's default (loky) backend;
- a Dask ``LocalCluster`` of W process workers with 1 thread each (``distributed``);
- Ray's joblib backend on ``ray.init(num_cpus=W)`` with ``n_jobs=W`` (``ray``).

Prints each round's times, the median ratio to ``n_jobs=1``, the worst round's ratio, and
whether the predictions equal ``n_jobs=1``'s bit for bit.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings

import joblib
import numpy as np
from _workload import three_class_split

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
K, EPOCHS, N_ROWS = (4, 1, 1000) if QUICK else (32, 4, 10_000)


def bagging(n_jobs=None, k=K):
    net = NeuralNetClassifier(
        module__hidden_units=(64, 64), lr=1e-3, batch_size=256, max_epochs=EPOCHS
    )
    return BaggingClassifier(
        net, n_estimators=k, engine="vectorized", n_jobs=n_jobs, random_state=0
    )


def start_dask(stack: contextlib.ExitStack, workers: int) -> str:
    import distributed

    cluster = stack.enter_context(
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0",
        )
    )  # fmt: skip
    stack.enter_context(distributed.Client(cluster))
    return "dask"


def start_ray(stack: contextlib.ExitStack, workers: int) -> str:
    import ray
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    stack.callback(ray.shutdown)
    return "ray"


def run(workers: int, repeats: int, X, y, X_test) -> None:
    """Each contender alone on the machine (a cluster is started for its rounds only),
    timed in alternation with ``n_jobs=1``, after a warm-up round."""
    print(f"\nK={K}, {len(X)} rows, {EPOCHS} epochs, {workers} workers, {repeats} rounds")
    reference = None
    for name, module, start in [
        (f"n_jobs={workers}", None, None),
        (f"Dask, {workers} workers", "distributed", start_dask),
        (f"Ray, {workers} workers", "ray", start_ray),
    ]:  # fmt: skip
        if module is not None:
            try:
                __import__(module)
            except ImportError:
                print(f"({module} not installed: no {name} row)")
                continue
        with contextlib.ExitStack() as stack:
            backend = start(stack, workers) if start else None
            times = {"n_jobs=1": [], name: []}
            for round_ in range(repeats + 1):  # round 0 warms up: workers start and import
                for contender, n_jobs in [("n_jobs=1", 1), (name, workers)]:
                    parallel = backend if contender == name else None
                    with (
                        joblib.parallel_config(backend=parallel)
                        if parallel
                        else contextlib.nullcontext()
                    ):
                        begin = time.perf_counter()
                        model = bagging(n_jobs).fit(X, y)
                        seconds = time.perf_counter() - begin
                    if round_:
                        times[contender].append(seconds)
            predictions = model.predict_proba(X_test)
        if reference is None:
            reference = bagging(1).fit(X, y).predict_proba(X_test)
        ratios = [one / other for one, other in zip(times["n_jobs=1"], times[name], strict=True)]
        print(f"{name:20s} {' '.join(f'{s:5.2f}' for s in times[name])} s, n_jobs=1 "
              f"{' '.join(f'{s:5.2f}' for s in times['n_jobs=1'])} s: median "
              f"{statistics.median(ratios):4.2f}x, worst {min(ratios):4.2f}x; bit-identical: "
              f"{np.array_equal(predictions, reference)}")  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1 if QUICK else 5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # tiny nets, few epochs: ConvergenceWarning on purpose
    X, X_test, y, _ = three_class_split(N_ROWS)
    print(f"ensemblekit stacked bagging; {joblib.cpu_count()} cores; {sys.version.split()[0]}")
    sizes = [2] + ([4] if joblib.cpu_count() >= 4 and not QUICK else [])
    for workers in sizes:
        run(workers, args.repeats, X, y, X_test)


if __name__ == "__main__":
    main()
