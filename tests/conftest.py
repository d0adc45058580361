"""Shared, session-scoped data: small, so the whole suite runs in minutes on 2 cores."""

import sys

import joblib
import pytest
from sklearn.datasets import load_digits, make_classification, make_regression
from sklearn.preprocessing import StandardScaler


@pytest.fixture(scope="session")
def digits():
    """400 rows of load_digits, scaled to [0, 1]: a 10-class problem a small net learns."""
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


@pytest.fixture(scope="session")
def binary():
    X, y = make_classification(
        n_samples=200, n_features=6, n_informative=4, class_sep=1.5, random_state=0
    )
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def regression():
    X, y = make_regression(n_samples=200, n_features=5, noise=5.0, random_state=0)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


@pytest.fixture(scope="session")
def tiny_net_params():
    """Parameters of a net that trains in a few hundredths of a second."""
    return {"module__hidden_units": (16,), "max_epochs": 5, "lr": 1e-2, "batch_size": 32}


@pytest.fixture
def dask_backend():
    """joblib's Dask backend on in-process workers (inproc transport, no dashboard).

    The scheduler still serves its health page over HTTP, on port 8787 unless told: a free
    port of the loopback keeps two test workers from warning about each other's cluster.
    """
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,
            dashboard_address="127.0.0.1:0",
            scheduler_kwargs={"dashboard": False},
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        yield


@pytest.fixture
def isolated_imports(tmp_path):
    """Forget the modules a test imports from its ``tmp_path``, and the paths it adds to sys.path.

    Two tests that each write a package of one name (``mylab``) to their own folder would
    otherwise see each other's: the first import stays in ``sys.modules`` for the worker.
    Modules imported from anywhere else stay, so that classes keep one identity.
    """
    modules, path = set(sys.modules), list(sys.path)
    yield
    for name in set(sys.modules) - modules:
        file = getattr(sys.modules[name], "__file__", None) or ""
        if file.startswith(str(tmp_path)):
            del sys.modules[name]
    sys.path[:] = path
