"""Modules whose output does not come straight from their input (a constant baseline, a
parameter, a tuple, a non-contiguous view) train and predict through every prediction
path, alone and stacked, and the diagnostics judge them instead of crashing."""

import numpy as np
import pytest
import torch
from torch import nn

from ensemblekit.diagnostics import sanity_check
from ensemblekit.ensemble import BaggingRegressor, DeepEnsembleClassifier, DeepEnsembleRegressor
from ensemblekit.ensemble._base import _PREDICTORS
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Constant(nn.Module):
    """The same output for every row: a baseline."""

    def __init__(self, n_features, n_outputs, random_state=None):
        super().__init__()
        self.b = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, x):
        return self.b.expand(len(x), -1)


class Parameter(nn.Module):
    """Returns its parameter itself for one row (a view of it for more)."""

    def __init__(self, n_features, n_outputs, random_state=None):
        super().__init__()
        self.w = nn.Parameter(torch.full((1, n_outputs), 0.1))

    def forward(self, x):
        return self.w if len(x) == 1 else self.w.expand(len(x), -1)


class Pair(nn.Module):
    """Returns a tuple whose first item is the output."""

    def __init__(self, n_features, n_outputs, random_state=None):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x):
        out = self.linear(x)
        return out, out.detach().abs()


class Transposed(nn.Module):
    """A non-contiguous output: the transpose of ``W x^T``."""

    def __init__(self, n_features, n_outputs, random_state=None):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_outputs, n_features) * 0.1)

    def forward(self, x):
        return (self.w @ x.T).T


class Flat(nn.Module):
    """One value per row, shape (n,), as skorch's regressors allow: for a regressor."""

    def __init__(self, n_features, n_outputs, random_state=None):
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x):
        return self.linear(x)[:, 0]


MODULES = [Constant, Parameter, Pair, Transposed]


class FirstCrossEntropy(nn.CrossEntropyLoss):
    """The loss of a tuple's first item (skorch leaves the rest of a tuple to the loss)."""

    def forward(self, input, target):
        return super().forward(input[0] if isinstance(input, tuple) else input, target)


class FirstMSE(nn.MSELoss):
    def forward(self, input, target):
        return super().forward(input[0] if isinstance(input, tuple) else input, target)


@pytest.fixture(scope="module")
def data(binary):
    X, y = binary
    return X.astype(np.float32), y


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_a_classifier_predicts_plain_arrays_whatever_its_module_returns(module, data):
    X, y = data
    params = {"module": module, "max_epochs": 2, "criterion": FirstCrossEntropy}
    net = NeuralNetClassifier(**params, random_state=0).fit(X, y)
    for rows in (X, X[:1]):
        proba = net.predict_proba(rows)
        assert type(proba) is np.ndarray and proba.shape == (len(rows), 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(np.exp(net.predict_log_proba(rows)), proba, rtol=1e-5)
        assert set(net.predict(rows)) <= {0, 1}
    ensemble = DeepEnsembleClassifier(
        NeuralNetClassifier(**params), n_estimators=3, random_state=0
    ).fit(X, y)
    members = ensemble.predict_members(X)
    assert _PREDICTORS[ensemble].stacks  # the members answered in one stacked forward
    assert type(members) is np.ndarray and members.shape == (3, len(X), 2)
    one_by_one = np.stack([m.predict_proba(X) for m in ensemble.estimators_])
    np.testing.assert_allclose(members, one_by_one, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("module", [*MODULES, Flat], ids=lambda m: m.__name__)
def test_a_regressor_predicts_plain_arrays_whatever_its_module_returns(module, regression):
    X, y = regression
    X, y = X.astype(np.float32), y.astype(np.float32)
    params = {"module": module, "max_epochs": 2, "criterion": FirstMSE}
    net = NeuralNetRegressor(**params, random_state=0).fit(X, y)
    for rows in (X, X[:1]):
        prediction = net.predict(rows)
        assert type(prediction) is np.ndarray and prediction.shape == (len(rows),)
    if module is Flat:  # trained on the rows' own targets, not a broadcast n x n loss
        learned = NeuralNetRegressor(**params, lr=0.05, random_state=0).set_params(max_epochs=30)
        assert np.corrcoef(learned.fit(X, y).predict(X), y)[0, 1] > 0.9
        stacked = DeepEnsembleRegressor(learned, n_estimators=2, random_state=0).fit(X, y)
        assert np.corrcoef(stacked.predict(X), y)[0, 1] > 0.9
    for ensemble in (
        DeepEnsembleRegressor(NeuralNetRegressor(**params), n_estimators=3),
        BaggingRegressor(NeuralNetRegressor(**params), n_estimators=3),
    ):
        members = ensemble.set_params(random_state=0).fit(X, y).predict_members(X)
        one_by_one = np.stack([m.predict(X) for m in ensemble.estimators_])
        np.testing.assert_allclose(members, one_by_one, rtol=1e-5, atol=1e-6)


def test_sanity_check_fails_a_constant_net_on_the_small_subset_instead_of_crashing(data):
    X, y = data
    report = sanity_check(NeuralNetClassifier(module=Constant, max_epochs=5), X, y)
    check = report.checks["overfit_small_subset"]
    assert check.status == "fail", check
    assert "capacity" in check.advice or "bug" in check.advice
