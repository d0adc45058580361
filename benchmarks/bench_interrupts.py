"""Stopping a fit: Ctrl-C under threads, Ctrl-C under Dask, and a killed parent under loky.

Each scenario runs a bagging fit of nets in a child process and stops it from outside:

- threads: Ctrl-C (SIGINT) during a fit under joblib's threading backend. Counts the runs
  that end with KeyboardInterrupt (exit 130) against those that abort (SIGABRT, "terminate
  called without an active exception"), and the seconds from the signal to the exit.
- dask: Ctrl-C during a fit on a LocalCluster of process workers. Measures the CPU seconds
  the workers still spend in the 5 s after the caller has stopped, and how long until
  they are idle.
- loky: SIGKILL of the parent during a fit with ``n_jobs=2``. Measures how long its loky
  workers live on.

Run: ``python benchmarks/bench_interrupts.py [--runs 25] [--scenario threads dask loky]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

#: The child: a bagging fit of nets that takes far longer than the scenarios wait.
FIT = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job ignores it
import numpy as np
from joblib import parallel_config
from sklearn.datasets import make_classification
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import NeuralNetClassifier

backend, engine = sys.argv[1], sys.argv[2]
X, y = make_classification(4000, 20, random_state=0)
net = NeuralNetClassifier(max_epochs=300, module__hidden_units=(64, 64), random_state=0)
bag = BaggingClassifier(net, n_estimators=8, n_jobs=2, engine=engine)
if backend == "dask":
    from distributed import Client
    client = Client(sys.argv[3])
# torch imports torch._dynamo on the first optimizer it builds (a second or more on a busy
# machine); a Ctrl-C inside that import is Python's to report (as a RuntimeError from
# __set_name__), not the fit's. Import it before the fit, whose Ctrl-C is measured.
import torch._dynamo
print("fitting", flush=True)
with parallel_config(backend=backend):
    bag.fit(X.astype(np.float32), y)
"""


def _start(folder: Path, *args: str) -> subprocess.Popen:
    script = folder / "fit.py"
    script.write_text(FIT)
    with open(folder / "log.txt", "w") as log:  # the child keeps its own copy
        process = subprocess.Popen(
            [sys.executable, str(script), *args], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while "fitting" not in (folder / "log.txt").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError((folder / "log.txt").read_text())
        time.sleep(0.05)
    return process


def interrupt_threads(engine: str = "joblib", wait: float = 1.5) -> tuple[int, float, str]:
    """One Ctrl-C under threads: (exit code, seconds to exit, the child's output)."""
    with tempfile.TemporaryDirectory() as folder:
        process = _start(Path(folder), "threading", engine)
        time.sleep(wait)
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)
        return code, time.monotonic() - start, (Path(folder) / "log.txt").read_text()


def _cpu_seconds(processes) -> float:
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def interrupt_dask(wait: float = 3.0) -> tuple[float, float, float]:
    """Ctrl-C of a fit on a LocalCluster: seconds to exit, CPU seconds of the workers in
    the 5 s after the caller stopped, and seconds until they were idle (under 0.1
    CPU-seconds in a 0.5 s window; 10 if not within 10 s)."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
        tempfile.TemporaryDirectory() as folder,
    ):
        workers = [psutil.Process(pid) for pid in client.run(os.getpid).values()]
        process = _start(Path(folder), "dask", "joblib", cluster.scheduler_address)
        time.sleep(wait)
        start = time.monotonic()
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        stopped = time.monotonic() - start
        before = last = _cpu_seconds(workers)
        idle, cpu = None, None
        for step in range(1, 21):  # 10 s at most
            time.sleep(0.5)
            now = _cpu_seconds(workers)
            if idle is None and now - last < 0.1:
                idle = 0.5 * (step - 1)
            if step == 10:
                cpu = now - before
            last = now
            if cpu is not None and idle is not None:
                break
        return stopped, cpu, 10.0 if idle is None else idle


def _cmdline(process) -> str:
    """A process's command line; empty for one that ended meanwhile (a zombie, or gone)."""
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""


def kill_loky_parent(limit: float = 90.0) -> float:
    """SIGKILL of a fit's parent while its loky workers train: seconds they live on
    (``limit`` if some still live then)."""
    with tempfile.TemporaryDirectory() as folder:
        process = _start(Path(folder), "loky", "joblib")
        deadline = time.monotonic() + 120
        while True:  # until both workers train (importing torch takes ~2 CPU-seconds)
            workers = [
                child
                for child in psutil.Process(process.pid).children(recursive=True)
                if "popen_loky" in _cmdline(child)  # not loky's resource tracker
            ]
            if len(workers) == 2 and all(_cpu_seconds([w]) > 5 for w in workers):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the loky workers did not start training")
            time.sleep(0.2)
        start = time.monotonic()
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        while any(_alive(worker) for worker in workers):
            if time.monotonic() - start > limit:
                for worker in workers:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        worker.kill()
                return limit
            time.sleep(0.1)
        return time.monotonic() - start


def _alive(process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
    parser.add_argument(
        "--runs", type=int, default=1 if quick else 25, help="Ctrl-C runs under threads"
    )
    parser.add_argument(  # the tests run the Dask and loky scenarios themselves
        "--scenario",
        nargs="+",
        default=["threads"] if quick else ["threads", "dask", "loky"],
        help="what to run",
    )
    args = parser.parse_args()
    print("ensemblekit: stopping a bagging fit of 8 nets from outside")
    if "threads" in args.scenario:
        for engine in ("joblib", "vectorized"):
            results = [interrupt_threads(engine) for _ in range(args.runs)]
            aborts = sum(
                code == -signal.SIGABRT or "terminate called" in out for code, _, out in results
            )
            clean = sum(code in (130, -signal.SIGINT) for code, _, _ in results)
            slowest = max(seconds for _, seconds, _ in results)
            print(
                f"threads, engine={engine}: {clean} of {args.runs} ended with KeyboardInterrupt, "
                f"{aborts} aborted; slowest exit {slowest:.2f} s after Ctrl-C"
            )
    if "dask" in args.scenario:
        stopped, cpu, idle = interrupt_dask()
        print(
            f"dask: the caller exited {stopped:.2f} s after Ctrl-C; its 2 workers then used "
            f"{cpu:.2f} CPU-seconds in 5 s, and were idle {idle:.1f} s after it exited"
        )
    if "loky" in args.scenario:
        lived = kill_loky_parent(limit=20 if quick else 90)
        print(f"loky: training workers of a SIGKILLed parent lived {lived:.1f} s on")


if __name__ == "__main__":
    main()
