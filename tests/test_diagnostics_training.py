"""While training: the monitors (skorch callbacks), the learning-rate range test, and the
displays of losses and monitored statistics."""

import contextlib
import io
import pickle
import warnings

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.diagnostics import (
    ActivationMonitor,
    GradientMonitor,
    LossCurveDisplay,
    LRRangeDisplay,
    MonitorDisplay,
    UpdateRatioMonitor,
    lr_range_test,
)
from ensemblekit.diagnostics._lr_range import _running_median
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import MLP, NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


def _full_batch_net(X, **params):
    """One full-batch epoch of plain SGD: one step, whose update is lr times the gradient."""
    return NeuralNetClassifier(
        optimizer=torch.optim.SGD, batch_size=len(X), max_epochs=1, random_state=0,
        module__hidden_units=(8,), **params,
    )  # fmt: skip


# ---------------------------------------------------------------- monitors
def test_gradient_and_update_ratio_match_a_hand_computed_step(iris):
    X, y = iris
    lr = 0.1
    net = _full_batch_net(X, lr=lr, callbacks=[GradientMonitor(), UpdateRatioMonitor()])
    net.fit(X, y)
    grad_norm, ratio = net.history[-1, "grad_norm"], net.history[-1, "update_ratio"]
    assert list(grad_norm) == list(ratio) == ["layers.0.weight", "layers.2.weight"]

    # The same step by hand, from the same initial weights.
    start = clone(net).set_params(callbacks=None, lr=1e-300).fit(X, y).module_
    start.zero_grad()
    loss = torch.nn.functional.cross_entropy(start(torch.as_tensor(X)), torch.as_tensor(y))
    loss.backward()
    for name, weight in start.named_parameters():
        if weight.dim() < 2:
            continue
        after = dict(net.module_.named_parameters())[name].detach()
        expected_grad = torch.linalg.vector_norm(weight.grad).item()
        assert grad_norm[name] == pytest.approx(expected_grad, rel=1e-5)
        expected_ratio = lr * expected_grad / torch.linalg.vector_norm(after).item()
        assert ratio[name] == pytest.approx(expected_ratio, rel=1e-4)


@pytest.mark.filterwarnings("ignore::ensemblekit.nets.DivergenceWarning")  # lr=50 diverges
def test_the_update_ratio_flags_a_learning_rate_far_too_high(iris):
    X, y = iris
    ratios = {}
    for lr in (1e-3, 50.0):
        net = NeuralNetClassifier(
            optimizer=torch.optim.SGD, lr=lr, max_epochs=2, batch_size=128, random_state=0,
            callbacks=[UpdateRatioMonitor()],
        )  # fmt: skip
        with contextlib.suppress(FloatingPointError):
            net.fit(X, y)
        ratios[lr] = max(net.history[0, "update_ratio"].values())
    assert 1e-5 < ratios[1e-3] < 1e-2  # CS231n: about 1e-3
    assert ratios[50.0] > 1e-1


class _DeadReLUs(MLP):
    """A bad initialisation: every unit of the first hidden layer starts (and stays) dead."""

    def reset_parameters(self):
        super().reset_parameters()
        with torch.no_grad():
            self.layers[0].bias.fill_(-100.0)


class _HalfDead(torch.nn.Module):
    """Four hidden units, two of which can never fire; one ReLU module used twice."""

    def __init__(self, n_features=4, n_outputs=3):
        super().__init__()
        self.hidden, self.more = torch.nn.Linear(n_features, 4), torch.nn.Linear(4, 4)
        self.act, self.out = torch.nn.ReLU(), torch.nn.Linear(4, n_outputs)
        with torch.no_grad():
            self.hidden.weight[:2].zero_()
            self.hidden.bias[:2].fill_(-1.0)
            self.hidden.weight[2:].fill_(0.1)
            self.hidden.bias[2:].fill_(1.0)

    def forward(self, X):
        return self.out(self.act(self.more(self.act(self.hidden(X)))))


def test_dead_units_are_counted_per_layer_and_per_call(iris):
    X, y = iris
    net = NeuralNetClassifier(
        _HalfDead, optimizer=torch.optim.SGD, lr=1e-6, max_epochs=1, random_state=0,
        callbacks=[ActivationMonitor()],
    ).fit(X, y)  # fmt: skip
    dead = net.history[-1, "dead_units"]
    assert set(dead) == {"act", "act[1]"}  # the module's first and second call
    assert dead["act"] == 0.5  # the two units that can never fire, out of four

    planted = NeuralNetClassifier(_DeadReLUs, max_epochs=1, random_state=0,
                                  callbacks=[ActivationMonitor()]).fit(X, y)  # fmt: skip
    assert planted.history[-1, "dead_units"]["layers.1"] == 1.0
    healthy = NeuralNetClassifier(max_epochs=1, random_state=0,
                                  callbacks=[ActivationMonitor()]).fit(X, y)  # fmt: skip
    assert healthy.history[-1, "dead_units"]["layers.1"] < 0.2
    assert healthy.history[-1, "saturated_units"] == {}


class _LoudTanh(MLP):
    """Weights a hundred times too large before a tanh: its outputs sit at +-1."""

    def reset_parameters(self):
        super().reset_parameters()
        with torch.no_grad():
            self.layers[0].weight.mul_(100.0)


def test_saturated_tanh_units_are_caught(iris):
    X, y = iris
    shares = {}
    for module in (MLP, _LoudTanh):
        net = NeuralNetClassifier(
            module, module__activation="tanh", max_epochs=1, random_state=0,
            callbacks=[ActivationMonitor()],
        ).fit(X, y)  # fmt: skip
        shares[module] = net.history[-1, "saturated_units"]["layers.1"]
    assert shares[MLP] < 0.05 and shares[_LoudTanh] > 0.8
    sigmoid = NeuralNetClassifier(
        module__activation="sigmoid", max_epochs=1, random_state=0,
        callbacks=[ActivationMonitor(saturation=0.5)],
    ).fit(X, y)  # fmt: skip
    assert 0 <= sigmoid.history[-1, "saturated_units"]["layers.1"] <= 1


class _Functional(torch.nn.Module):
    def __init__(self, n_features=4, n_outputs=3):
        super().__init__()
        self.hidden, self.out = torch.nn.Linear(n_features, 8), torch.nn.Linear(8, n_outputs)

    def forward(self, X):
        return self.out(torch.relu(self.hidden(X)))


def test_monitors_explain_what_they_cannot_watch(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"no activation module .*torch.nn.ReLU\(\)"):
        NeuralNetClassifier(_Functional, max_epochs=1, callbacks=[ActivationMonitor()]).fit(X, y)
    with pytest.raises(ValueError, match=r"saturation must be in \(0, 1\)"):
        NeuralNetClassifier(max_epochs=1, callbacks=[ActivationMonitor(saturation=1.5)]).fit(X, y)


def test_monitors_stay_out_of_the_printed_table_and_leave_no_hooks(iris):
    X, y = iris
    monitors = [GradientMonitor(), UpdateRatioMonitor(), ActivationMonitor()]
    net = NeuralNetClassifier(max_epochs=2, random_state=0, verbose=1, callbacks=monitors)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        net.fit(X, y)
    assert "train_loss" in printed.getvalue()
    for key in ("grad_norm", "update_ratio", "dead_units", "saturated_units"):
        assert key not in printed.getvalue() and len(net.history[:, key]) == 2
    assert all(not module._forward_hooks for module in net.module_.modules())
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict_proba(X), net.predict_proba(X))
    refitted = clone(net).set_params(verbose=0).fit(X, y)  # the same monitors, fit again
    assert refitted.history[:, "grad_norm"] == net.history[:, "grad_norm"]


def test_members_of_an_ensemble_carry_their_monitors(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=2, random_state=0, callbacks=[GradientMonitor()])
    bagging = BaggingClassifier(net, n_estimators=3, random_state=0, n_jobs=2).fit(X, y)
    assert all(len(m.history[:, "grad_norm"]) == 2 for m in bagging.estimators_)


# ---------------------------------------------------------------- displays
def test_loss_curves_of_a_net_an_ensemble_and_a_pipeline(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=4, early_stopping=True, random_state=0)
    display = LossCurveDisplay.from_estimator(make_pipeline(StandardScaler(), net).fit(X, y))
    assert len(display.train) == len(display.valid) == 1
    assert len(display.ax_.lines) == 2 and display.ax_.get_xlabel() == "epoch"
    np.testing.assert_array_equal(display.valid[0], net.history[:, "valid_loss"])

    bagging = BaggingClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    display = LossCurveDisplay.from_estimator(bagging)
    assert len(display.ax_.lines) == 6  # training and validation of each member
    labels = display.ax_.get_legend_handles_labels()[1]
    assert labels == ["training (each of 3 members)", "validation (each of 3 members)"]

    from ensemblekit.ensemble import SnapshotEnsembleClassifier

    snapshots = SnapshotEnsembleClassifier(
        NeuralNetClassifier(max_epochs=6, random_state=0), n_estimators=3, random_state=0
    ).fit(X, y)
    display = LossCurveDisplay.from_estimator(snapshots)  # one run: drawn once
    assert len(display.train) == 1 and display.ax_.get_legend_handles_labels()[1] == ["training"]

    without_split = NeuralNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    assert len(LossCurveDisplay.from_estimator(without_split).ax_.lines) == 1
    for unfit in (NeuralNetClassifier(), LogisticRegression().fit(X, y)):
        with pytest.raises(ValueError, match="has no training history"):
            LossCurveDisplay.from_estimator(unfit)


def test_the_monitor_display_draws_each_layer_and_names_the_missing_monitor(iris):
    X, y = iris
    net = NeuralNetClassifier(
        max_epochs=3, random_state=0, callbacks=[UpdateRatioMonitor(), ActivationMonitor()]
    ).fit(X, y)
    display = MonitorDisplay.from_estimator(net, "update_ratio")
    assert sorted(display.lines_) == ["layers.0.weight", "layers.2.weight"]
    assert display.ax_.get_yscale() == "log"
    np.testing.assert_allclose(
        display.values["layers.0.weight"],
        [row["layers.0.weight"] for row in net.history[:, "update_ratio"]],
    )
    dead = MonitorDisplay.from_estimator(net, "dead_units")
    assert dead.ax_.get_ylim() == (-0.02, 1.02)
    with pytest.raises(ValueError, match=r"no 'grad_norm': add GradientMonitor"):
        MonitorDisplay.from_estimator(net, "grad_norm")
    with pytest.raises(ValueError, match=r"not a \{layer: value\} record"):
        MonitorDisplay.from_estimator(net, "train_loss")
    bagging = BaggingClassifier(clone(net), n_estimators=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"ensemble.estimators_\[0\]"):
        MonitorDisplay.from_estimator(bagging, "update_ratio")
    assert MonitorDisplay.from_estimator(bagging.estimators_[0], "update_ratio").lines_


# ---------------------------------------------------------------- lr_range_test
def test_running_median_by_hand():
    values = np.array([1.0, 9.0, 2.0, 3.0, 100.0, 4.0])
    np.testing.assert_array_equal(_running_median(values, 3), [5.0, 2.0, 3.0, 3.0, 4.0, 52.0])


@pytest.fixture(scope="module")
def range_test(digits):
    X, y = digits
    net = NeuralNetClassifier(batch_size=32, random_state=0)
    return net, lr_range_test(net, X, y, n_steps=100)


def test_lr_range_test_rises_stops_at_divergence_and_suggests_by_its_rule(digits, range_test):
    X, y = digits
    net, result = range_test
    assert not net.initialized_  # the net passed is left alone
    n = len(result.lrs)
    assert 20 < n < 100  # stopped when the loss diverged, before the last rate
    np.testing.assert_allclose(result.lrs, np.geomspace(1e-6, 10.0, 100)[:n])
    assert result.losses[-1] > 2 * np.nanmin(result.smoothed_losses)
    np.testing.assert_allclose(result.smoothed_losses, _running_median(result.losses, 11))
    lowest = np.nanargmin(result.smoothed_losses)
    assert result.suggested_lr == result.lrs[lowest] / 10
    assert result.rule == "a tenth of the rate at which the smoothed loss is lowest"
    assert "suggested_lr=" in repr(result)
    assert lr_range_test(net, X, y, n_steps=100) == result  # the net's seed decides

    # The suggestion trains: ten epochs at it beat ten at the smallest and largest rates.
    scores = {
        lr: NeuralNetClassifier(batch_size=32, lr=lr, max_epochs=10, random_state=0)
        .fit(X[::2], y[::2])
        .score(X[1::2], y[1::2])
        for lr in (1e-6, result.suggested_lr)
    }
    assert scores[result.suggested_lr] > 0.9 > scores[1e-6]


def test_lr_range_test_warns_when_the_range_misses_and_checks_its_arguments(digits):
    X, y = digits
    net = NeuralNetClassifier(batch_size=32, random_state=0)
    with pytest.warns(UserWarning, match="lowest at the first rate .*lower start_lr"):
        lr_range_test(net, X, y, start_lr=5.0, end_lr=1e4, n_steps=10)
    for params, message in (
        ({"start_lr": 1.0, "end_lr": 0.1}, "0 < start_lr < end_lr"),
        ({"n_steps": 2}, "n_steps must be an int >= 5"),
        ({"window": 4}, "window must be an odd int >= 3"),
        ({"diverge_factor": 1.0}, "diverge_factor must be above 1"),
    ):
        with pytest.raises(ValueError, match=message):
            lr_range_test(net, X, y, **params)
    with pytest.raises(TypeError, match="NeuralNetClassifier or NeuralNetRegressor"):
        lr_range_test(LogisticRegression(), X, y)


def test_the_range_test_display(range_test):
    _, result = range_test
    display = result.plot()
    assert isinstance(display, LRRangeDisplay) and display.ax_.get_xscale() == "log"
    labels = display.ax_.get_legend_handles_labels()[1]
    assert f"suggested lr {result.suggested_lr:.2g}" in labels
    assert display.ax_.get_title() == f"suggested: {result.rule}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display.figure_.canvas.draw()


def test_verbose_says_why_monitored_members_are_not_stacked(iris, capsys):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=1, random_state=0, callbacks=[GradientMonitor()])
    BaggingClassifier(net, n_estimators=2, random_state=0, verbose=1).fit(X, y)
    assert (
        "The 2 members train one by one: the callback 'GradientMonitor' acts on every batch"
        in capsys.readouterr().err
    )


def test_a_regressor_is_monitored_and_range_tested():
    from sklearn.datasets import make_friedman1

    from ensemblekit.nets import NeuralNetRegressor

    X, y = make_friedman1(n_samples=400, random_state=0)
    X, y = X.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32)
    net = NeuralNetRegressor(batch_size=32, random_state=0)
    result = lr_range_test(net, X, y, n_steps=60)
    assert 1e-6 < result.suggested_lr < 10 and np.isfinite(result.losses[0])
    monitored = net.set_params(
        max_epochs=2, callbacks=[GradientMonitor(), UpdateRatioMonitor(), ActivationMonitor()]
    ).fit(X, y)
    assert set(monitored.history[-1, "update_ratio"]) == {"layers.0.weight", "layers.2.weight"}
    assert list(monitored.history[-1, "dead_units"]) == ["layers.1"]
