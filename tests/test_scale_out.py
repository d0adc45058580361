"""Beyond one process: Ray's backend, glibc's allocator in workers, members sent back cheaply."""

import os
import pickle
import re
import subprocess
import sys

import joblib
import numpy as np
import pytest
import torch

from ensemblekit.engine import _backends, _members
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.experiment._cli import main
from ensemblekit.nets import NeuralNetClassifier, _pickle
from ensemblekit.utils import _allocator

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def ray_backend():
    """A local Ray instance of 2 CPUs with joblib's Ray backend registered."""
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
def test_ray_gets_the_tasks_and_gives_the_same_members(
    digits, tiny_net_params, ray_backend, engine, monkeypatch
):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params)
    bag = BaggingClassifier(net, n_estimators=4, engine=engine, random_state=0)
    expected = bag.fit(X, y).predict_proba(X)
    sent = []
    ray_tasks = _backends.ray_tasks
    monkeypatch.setattr(
        _backends,
        "ray_tasks",
        lambda f, data, calls: sent.append(len(calls)) or ray_tasks(f, data, calls),
    )
    with joblib.parallel_config(backend="ray"):
        got = bag.set_params(n_jobs=2).fit(X, y).predict_proba(X)
    assert sent == [2 if engine == "vectorized" else 4]
    np.testing.assert_array_equal(got, expected)


_INTERRUPT_RAY = """
import os, signal, sys, threading, time
import joblib, ray
from ray.util.joblib import register_ray
from sklearn.datasets import make_classification
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import NeuralNetClassifier

register_ray()
ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
X, y = make_classification(2000, 20, random_state=0)
net = NeuralNetClassifier(max_epochs=100000, batch_size=16)
model = BaggingClassifier(net, n_estimators=4, n_jobs=2, engine=sys.argv[1])

def interrupt():
    while ray.available_resources().get("CPU", 0) > 0:  # until both tasks run
        time.sleep(0.1)
    time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=interrupt, daemon=True).start()
try:
    with joblib.parallel_config(backend="ray"):
        model.fit(X, y)
except KeyboardInterrupt:
    start = time.perf_counter()
    while ray.available_resources().get("CPU", 0) < 2 and time.perf_counter() - start < 30:
        time.sleep(0.1)
    free = ray.available_resources().get("CPU", 0)
    print(f"fitted: {hasattr(model, 'estimators_')}; CPUs free {free:.0f} after "
          f"{time.perf_counter() - start:.1f} s")
else:
    print("fit returned")
"""


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
def test_ctrl_c_on_ray_cancels_its_tasks(engine):
    pytest.importorskip("ray")
    done = subprocess.run(
        [sys.executable, "-c", _INTERRUPT_RAY, engine], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"fitted: False; CPUs free 2 after ([\d.]+) s", line)
    assert match, line
    assert float(match[1]) < 10


def test_the_cli_names_the_extra_a_backend_needs(tmp_path, monkeypatch, capsys):
    study = tmp_path / "study.toml"
    study.write_text(
        '[data]\ndataset = "iris"\n[models.tree]\nclass = "sklearn.tree.DecisionTreeClassifier"\n'
    )
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    assert main(["run", str(study), "--out", str(tmp_path / "run"), "--backend", "ray"]) == 2
    assert "pip install 'ensemblekit[ray]'" in capsys.readouterr().err
    assert main(["run", str(study), "--backend", "loky", "--scheduler", "tcp://x:1"]) == 2
    assert "--scheduler needs --backend dask or ray" in capsys.readouterr().err


# ---------------------------------------------------------------------------- the allocator
class _FakeLibc:
    def __init__(self):
        self.calls = []

    def mallopt(self, parameter, value):
        self.calls.append((parameter, value))

    def malloc_trim(self, pad):
        self.calls.append(("trim", pad))


def test_workers_that_fix_glibcs_thresholds_get_them_for_training_and_back(monkeypatch):
    """A process started with MALLOC_TRIM_THRESHOLD_ (Dask's workers) trains with glibc's
    dynamic thresholds' values, then gets its own back and its free memory returned."""
    libc = _FakeLibc()
    monkeypatch.setattr(_allocator, "_libc", lambda: libc)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    with _allocator.training_allocator():
        pass
    assert libc.calls == []  # glibc's own dynamic rule: nothing to change
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with _allocator.training_allocator(), _allocator.training_allocator():  # two tasks at once
        assert libc.calls == [(-3, 32 * 2**20), (-1, 64 * 2**20)]
    assert libc.calls[2:] == [(-3, 128 * 2**10), (-1, 65536), ("trim", 0)]


def test_a_worker_task_runs_under_the_training_allocator(digits, tiny_net_params, monkeypatch):
    entered = []
    monkeypatch.setattr(_members, "training_allocator", lambda: _Spy(entered))
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params)
    plans, quiet = [_members.MemberPlan(0)], lambda fraction: None
    _members._fit_task((X, y), net, plans, False, {}, 1, -1, False, quiet)  # another parent
    assert entered == [True]
    _members._fit_task((X, y), net, plans, False, {}, 1, os.getpid(), False, quiet)
    assert entered == [True]  # the parent process itself: untouched


class _Spy:
    def __init__(self, entered):
        self.entered = entered

    def __enter__(self):
        self.entered.append(True)

    def __exit__(self, *exc):
        return False


# ---------------------------------------------------------------------------- pickling
def test_a_cpu_net_pickles_its_tensors_as_arrays_and_comes_back_the_same(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    state = net.__getstate__()["__cuda_dependent_attributes__"]
    assert b"tensor_from_array" in state and b"_load_from_bytes" not in state
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
    # The optimizer steps the module's own parameters, with its state: training goes on alike.
    assert again.optimizer_.param_groups[0]["params"][0] is next(again.module_.parameters())
    net.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
    for parameter in again.module_.parameters():
        parameter.data.add_(1.0)  # writable, as torch's own unpickled tensors are


def test_tensors_an_array_cannot_stand_for_keep_torchs_pickling():
    base = torch.arange(12.0)
    cases = {
        "a view into a larger storage": base[2:6],
        "a transposed view": base.view(3, 4).T,
        "bfloat16": torch.ones(3, dtype=torch.bfloat16),
        "a sparse tensor": torch.eye(3).to_sparse(),
        "a tensor in autograd": torch.ones(3, requires_grad=True) * 2,
    }
    for what, tensor in cases.items():
        assert _pickle._as_array(tensor) is None, what
        back = pickle.loads(_pickle.dumps(tensor))
        assert torch.equal(back.to_dense(), tensor.detach().to_dense()), what
    shared = pickle.loads(_pickle.dumps([base, base]))
    assert shared[0] is shared[1]  # one object pickled once
    assert _pickle._as_array(base) is not None


def test_a_net_pickles_after_another_package_replaces_print(digits, tiny_net_params, monkeypatch):
    """Ray's ray.shutdown() sets builtins.print to a function of its own; a net made before
    must still pickle (pickle finds a function by its name)."""
    import builtins

    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, early_stopping=True, verbose=1).fit(X, y)
    monkeypatch.setattr(builtins, "print", lambda *args, **kwargs: None)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
