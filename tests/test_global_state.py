# ruff: noqa: NPY002  (numpy's legacy global generator is what these tests watch)
"""Fitting and predicting leave the process as they found it.

torch's thread count, torch's and numpy's global generators, the warning filters and the
environment are process-wide: a user's ``predict`` must not change them, and neither may
a worker that a Dask or Ray cluster shares between tasks.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from ensemblekit.ensemble import BaggingClassifier, DeepEnsembleRegressor
from ensemblekit.model_selection import bootstrap_score
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _process_state():
    return {
        "threads": torch.get_num_threads(),
        "torch_generator": torch.get_rng_state().clone(),
        "numpy_generator": np.random.get_state()[1].copy(),
        "numpy_position": np.random.get_state()[2],
        "warning_filters": list(warnings.filters),
        "environment": dict(os.environ),
    }


def _assert_same(before, after):
    assert after["threads"] == before["threads"]
    assert torch.equal(after["torch_generator"], before["torch_generator"])
    np.testing.assert_array_equal(after["numpy_generator"], before["numpy_generator"])
    assert after["numpy_position"] == before["numpy_position"]
    assert after["warning_filters"] == before["warning_filters"]
    assert after["environment"] == before["environment"]


@pytest.fixture
def odd_thread_count():
    """A thread count no net uses (nets pin 1 by default), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    yield
    torch.set_num_threads(before)


def _jobs(binary, regression, tiny_net_params):
    X, y = binary
    Xr, yr = regression
    net = NeuralNetClassifier(random_state=None, **tiny_net_params)
    yield "net fit", lambda: net.fit(X, y)
    yield "net predict", lambda: net.predict_proba(X)
    for engine in ("joblib", "vectorized"):
        for n_jobs in (1, 2):
            bag = BaggingClassifier(
                NeuralNetClassifier(module__dropout=0.2, **tiny_net_params),
                n_estimators=3, n_jobs=n_jobs, engine=engine,
            )  # fmt: skip
            yield f"bagging {engine} n_jobs={n_jobs} fit", lambda bag=bag: bag.fit(X, y)
            yield f"bagging {engine} n_jobs={n_jobs} predict", lambda bag=bag: bag.predict(X)
    deep = DeepEnsembleRegressor(NeuralNetRegressor(**tiny_net_params), n_estimators=2, n_jobs=2)
    yield "deep ensemble fit", lambda: deep.fit(Xr, yr)
    yield "bootstrap_score", lambda: bootstrap_score(net, X, y, n_rounds=2)


def test_fit_and_predict_leave_process_state_as_found(
    binary, regression, tiny_net_params, odd_thread_count
):
    # torch's first optimizer step imports torch._dynamo (and sympy), which set warning
    # filters of their own: torch's doing, whoever trains first. Done before measuring.
    NeuralNetClassifier(max_epochs=1).fit(*binary)
    np.random.seed(12345)
    torch.manual_seed(12345)
    for name, job in _jobs(binary, regression, tiny_net_params):
        before = _process_state()
        job()
        try:
            _assert_same(before, _process_state())
        except AssertionError as error:
            raise AssertionError(f"{name} changed the process: {error}") from error


def test_unseeded_nets_differ_without_touching_numpy_global_generator(binary, tiny_net_params):
    X, y = binary
    probas = []
    for _ in range(2):
        np.random.seed(0)  # the same global state before each fit...
        net = NeuralNetClassifier(random_state=None, **tiny_net_params).fit(X, y)
        probas.append(net.predict_proba(X))
        assert np.random.randint(1000) == np.random.RandomState(0).randint(1000)
    # ...and still two different nets: random_state=None draws fresh entropy.
    assert not np.allclose(probas[0], probas[1])


def test_importing_ensemblekit_leaves_warning_filters_alone():
    # In a fresh interpreter: the dependencies' own imports first (they set filters of
    # their own), then every ensemblekit subpackage, which must add none.
    code = """
import warnings
import joblib, numpy, scipy.special, scipy.stats, skorch, sklearn.ensemble, torch
import sklearn.model_selection, sklearn.utils.estimator_checks
before = list(warnings.filters)
import ensemblekit.averaging, ensemblekit.engine, ensemblekit.ensemble
import ensemblekit.imbalance, ensemblekit.model_selection, ensemblekit.nets
assert warnings.filters == before, [f for f in warnings.filters if f not in before]
"""
    subprocess.run([sys.executable, "-c", code], check=True)
