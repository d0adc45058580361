"""The stacked engine's memory guard: its estimate against the measured peak.

    python benchmarks/bench_memory.py
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_memory.py

Workload: the speed benchmarks' make_classification problem (20 features, 3 classes) on
20,000 training rows (2,000 in quick mode); K bootstrap members of a BaggingClassifier of
nets trained stacked, one thread. The base net is an MLP 20-32-64-3, batch 128, 2 epochs;
the other rows change one thing each (wider layers, larger batches, more epochs, early
stopping's validation split, a CNN through vmap).

Each fit runs in a fresh process, after a small stacked fit that loads torch's kernels.
The peak is the resident memory's high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``) during the stacked pass, less the resident memory when it
starts: it counts the members' nets, weights and rows, the stacked copies, the history and
every temporary. The estimate is the guard's own (``stack_memory``) for the same members.

glibc's allocator raises its threshold for returning freed blocks to the system as a
program frees large blocks, so how much of the freed memory stays resident varies from run
to run (by tens of percent here). The table's peak is measured with that threshold fixed
(``MALLOC_MMAP_THRESHOLD_=65536``), which makes it repeatable to a fraction of a percent;
the last column is the peak under the default allocator, three runs. The guard keeps to
half of the free memory, which leaves room for that difference.

A second part measures how the peak grows with the rows: K=100 members (10 in quick mode),
MLP 20-64-64-3, batch 256, 1 epoch, on 10,000 and 100,000 training rows (1,000 and 10,000).

A last part gives the guard a budget of half the largest base fit's peak and reports the
stacks it forms and the peak of the whole pass against the budget.
"""

import json
import os
import subprocess
import sys

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
N_ROWS = 2_000 if QUICK else 20_000
BASE = {"module__hidden_units": [32, 64], "batch_size": 128, "max_epochs": 2}
CASES = [  # (name, K, changes to the base net)
    ("base", 10, {}),
    ("base", 50, {}),
    ("base", 200, {}),
    ("hidden 256-256", 50, {"module__hidden_units": [256, 256]}),
    ("batch 1024", 50, {"batch_size": 1024}),
    ("10 epochs", 50, {"max_epochs": 10}),
    ("early stopping", 50, {"early_stopping": True}),
    ("CNN (vmap)", 50, {"module": "cnn"}),
]
if QUICK:
    CASES = [("base", 4, {"max_epochs": 1}), ("CNN (vmap)", 4, {"module": "cnn", "max_epochs": 1})]
FIXED = {"MALLOC_MMAP_THRESHOLD_": "65536"}


def _status(field: str) -> int:
    """A field of /proc/self/status in bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))


def child(k: int, changes: dict, budget: int | None) -> dict:
    """In a fresh process: fit K stacked members, measure the pass and the estimate."""
    from _workload import three_class_split

    from ensemblekit.ensemble import BaggingClassifier
    from ensemblekit.nets import NeuralNetClassifier, _base, _stack_memory, _stacked

    changes = dict(changes)
    X, _, y, _ = three_class_split(int(changes.pop("n_rows", N_ROWS) / 0.8))
    params = {**BASE, **changes}
    params["module__hidden_units"] = tuple(params["module__hidden_units"])
    if params.get("module") == "cnn":
        from _workload import DigitsCNN

        params["module"], X = DigitsCNN, X.repeat(4, axis=1)[:, :64]  # 64 columns, 8x8
        del params["module__hidden_units"]
    net = NeuralNetClassifier(n_threads=1, **params)
    BaggingClassifier(net, n_estimators=2, engine="vectorized", random_state=1).fit(
        X[:256], y[:256]
    )
    record = {"chunks": []}
    fit_stacked = _base.fit_stacked

    def measured(members, *args, **kwargs):
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # the high-water mark starts again from the resident memory
        start = _status("VmRSS")
        out = fit_stacked(members, *args, **kwargs)
        record["peak"] = _status("VmHWM") - start
        return out

    class Recorded(_stacked._Stack):
        def __init__(self, members, prepared, X, *rest):
            if not record["chunks"]:  # the guard's estimate for the whole pass
                memory = _stack_memory.stack_memory(members[0], prepared[0][0], X)
                record["estimate"] = memory.peak(k, len(members))
            record["chunks"].append(len(members))
            super().__init__(members, prepared, X, *rest)

    _base.fit_stacked, _stacked._Stack = measured, Recorded
    if budget is not None:
        _stack_memory._available_memory = lambda device: 2 * budget  # the guard takes half
    bag = BaggingClassifier(net, n_estimators=k, engine="vectorized", random_state=0)
    bag.fit(X, y)
    return record


def run(k: int, changes: dict, budget: int | None = None, env: dict | None = None) -> dict:
    command = [sys.executable, __file__, "--child", str(k), json.dumps(changes), str(budget)]
    env = {**os.environ, **(env or {})}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.splitlines()[-1])


def mb(value: float) -> str:
    return f"{value / 2**20:.1f}"


def main() -> None:
    print(f"ensemblekit's stacked engine, {N_ROWS} training rows: the memory guard's estimate")
    print("against the peak with glibc's threshold fixed, and under its default allocator")
    print(f"{'case':<16} {'K':>4} {'estimate MB':>12} {'peak MB':>8} {'estimate/peak':>14}"
          f"   default allocator, MB")  # fmt: skip
    for name, k, changes in CASES:
        record = run(k, changes, env=FIXED)
        default = [mb(run(k, changes)["peak"]) for _ in range(1 if QUICK else 3)]
        print(f"{name:<16} {k:>4} {mb(record['estimate']):>12} {mb(record['peak']):>8} "
              f"{record['estimate'] / record['peak']:>14.2f}   {', '.join(default)}")  # fmt: skip
    k, sizes = (10, (1_000, 10_000)) if QUICK else (100, (10_000, 100_000))
    growth = {"module__hidden_units": [64, 64], "batch_size": 256, "max_epochs": 1}
    peaks = [run(k, {**growth, "n_rows": n}, env=FIXED)["peak"] for n in sizes]
    print(
        f"\nK={k}, MLP 64-64, batch 256, 1 epoch: peak {mb(peaks[0])} MB on {sizes[0]} rows, "
        f"{mb(peaks[1])} MB on {sizes[1]} rows ({peaks[1] / peaks[0]:.2f}x for 10x the rows)"
    )
    name, k, changes = CASES[2] if not QUICK else CASES[0]
    budget = run(k, changes, env=FIXED)["peak"] // 2
    record = run(k, changes, budget, env=FIXED)
    chunks = record["chunks"]
    print(
        f"\n{name}, K={k}, a budget of {mb(budget)} MB: {len(chunks)} stacks of "
        f"{max(chunks)} members at most; estimate {mb(record['estimate'])} MB, peak "
        f"{mb(record['peak'])} MB ({record['peak'] / budget:.2f} of the budget)"
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        k, changes, budget = sys.argv[2:5]
        budget = None if budget == "None" else int(budget)
        print(json.dumps(child(int(k), json.loads(changes), budget)))
    else:
        main()
