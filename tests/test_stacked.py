"""Stacked training: members are their own fits, whatever their stack-mates, with the whole
net contract (history, optimizer state, callbacks, early stopping, verbose output)."""

import pickle
import re

import numpy as np
import pytest
import torch
from joblib import parallel_config
from sklearn.base import clone
from sklearn.tree import DecisionTreeClassifier
from skorch.callbacks import Callback, LRScheduler

from ensemblekit.averaging import EMA, model_soup
from ensemblekit.engine import MemberPlan, fit_members
from ensemblekit.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    CVEnsembleClassifier,
    DeepEnsembleClassifier,
    _base,
)
from ensemblekit.imbalance import FocalLoss
from ensemblekit.model_selection import bias_variance_decomp
from ensemblekit.nets import (
    NeuralNetClassifier,
    NeuralNetRegressor,
    StackedPredictor,
    _stack_blockers,
    _stack_memory,
    _stack_predict,
    _stacked,
)
from ensemblekit.utils import set_random_states

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NET = {"module__hidden_units": (16, 8), "max_epochs": 3, "lr": 1e-2, "batch_size": 64}
EARLY = {"early_stopping": True, "max_epochs": 40, "n_iter_no_change": 2}
# float32 sums in a stacked matrix product round differently from one member's: members
# agree with their own fits to ~1e-7 per step, which training grows to ~1e-6.
ATOL = 1e-5


def _proba(net, X):
    return net.predict_proba(X) if hasattr(net, "classes_") else net.predict(X)


def _assert_members_equal(a, b, X, plans):
    for left, right, plan in zip(a, b, plans, strict=True):
        X_m = X if plan.features is None else X[:, plan.features]
        np.testing.assert_allclose(_proba(left, X_m), _proba(right, X_m), atol=ATOL)


def _assert_same_history(stacked, plain):
    assert len(stacked.history) == len(plain.history)
    for left, right in zip(stacked.history, plain.history, strict=True):
        assert sorted(left) == sorted(right)
        assert [sorted(b) for b in left["batches"]] == [sorted(b) for b in right["batches"]]
    for key in ("train_loss", "valid_loss"):
        if key in plain.history[-1]:
            np.testing.assert_allclose(
                stacked.history[:, key], plain.history[:, key], rtol=1e-4, atol=1e-6
            )
            assert stacked.history[:, f"{key}_best"] == plain.history[:, f"{key}_best"]
    assert stacked.history[:, "train_batch_count"] == plain.history[:, "train_batch_count"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"module__dropout": 0.3},
        {"class_weight": "balanced"},
        {"optimizer": torch.optim.SGD, "optimizer__momentum": 0.9},
        {"optimizer": torch.optim.SGD, "module__batch_norm": True},
        {"batch_size": -1, "optimizer": torch.optim.AdamW},
        EARLY,
    ],
    ids=[
        "adam", "dropout", "class-weight", "sgd-momentum", "batch-norm", "full-batch-adamw",
        "early-stopping",
    ],
)  # fmt: skip
def test_one_stacked_member_is_a_plain_fit_of_its_seed(digits, params):
    X, y = digits
    net = NeuralNetClassifier(**{**NET, **params})
    (member,) = fit_members(net, X, y, [MemberPlan(7)], engine="vectorized")
    plain = set_random_states(clone(net), 7).fit(X, y)
    np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)
    _assert_same_history(member, plain)
    # The optimizer state came back too: training on from it agrees with the plain net.
    member.partial_fit(X, y)
    plain.partial_fit(X, y)
    np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)


def _weights(net):
    return [t.detach().clone() for t in net.module_.state_dict().values()]


def test_a_member_does_not_depend_on_its_stack_mates(digits):
    """Bit for bit: why the engine may pack members by the number of workers."""
    X, y = digits
    rng = np.random.RandomState(0)
    plans = [
        MemberPlan(seed, rows=rng.randint(0, len(X), len(X)), features=rng.permutation(64)[:40])
        for seed in range(5)
    ]
    net = NeuralNetClassifier(**{**NET, "module__dropout": 0.2})
    together = fit_members(net, X, y, plans, engine="vectorized")[2]
    for mates in ([2], [0, 2], [2, 3, 4]):
        members = fit_members(net, X, y, [plans[i] for i in mates], engine="vectorized")
        alone = members[mates.index(2)]
        for a, b in zip(_weights(alone), _weights(together), strict=True):
            assert torch.equal(a, b)
        assert alone.history[:, "train_loss"] == together.history[:, "train_loss"]


def test_members_stop_early_on_their_own_and_the_rest_go_on(digits):
    X, y = digits
    net = NeuralNetClassifier(**{**NET, **EARLY})
    plans = [MemberPlan(seed) for seed in range(4)]
    stacked = fit_members(net, X, y, plans, engine="vectorized")
    plain = fit_members(net, X, y, plans, engine="joblib")
    epochs = [len(m.history) for m in stacked]
    assert len(set(epochs)) > 1 and min(epochs) < EARLY["max_epochs"]
    assert epochs == [len(m.history) for m in plain]
    for left, right in zip(stacked, plain, strict=True):
        _assert_same_history(left, right)
    # Best weights restored, as the plain fit's EarlyStopping(load_best=True) does.
    _assert_members_equal(stacked, plain, X, plans)


@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
def test_bagged_members_stop_on_their_own_out_of_bag_rows(digits, engine):
    X, y = digits
    net = NeuralNetClassifier(**{**NET, **EARLY})
    bag = BaggingClassifier(net, n_estimators=3, random_state=0, engine=engine).fit(X, y)
    for member, drawn in zip(bag, bag.estimators_samples_, strict=True):
        out_of_bag = np.setdiff1d(np.arange(len(X)), drawn)
        out_of_bag = out_of_bag[np.isin(y[out_of_bag], y[drawn])]
        assert sum(member.history[-1, "batches", :, "valid_batch_size"]) == len(out_of_bag)
        assert len(member.history) < EARLY["max_epochs"]


class _EpochCounter(Callback):
    """An epoch-level callback: stacked members run it as their own fits do."""

    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1
        net.history.record("weight_norm", float(net.module_.layers[0].weight.detach().norm()))


class _BatchCounter(Callback):
    def on_batch_end(self, net, **kwargs):
        pass


def test_epoch_callbacks_run_per_member_and_batch_callbacks_say_why(digits):
    X, y = digits
    net = NeuralNetClassifier(callbacks=[("count", _EpochCounter())], **NET)
    plans = [MemberPlan(seed) for seed in range(2)]
    stacked = fit_members(net, X, y, plans, engine="vectorized")
    plain = fit_members(net, X, y, plans, engine="joblib")
    for left, right in zip(stacked, plain, strict=True):
        assert dict(left.callbacks_)["count"].epochs_ == NET["max_epochs"]
        # The callback saw the member's weights of each epoch.
        np.testing.assert_allclose(
            left.history[:, "weight_norm"], right.history[:, "weight_norm"], rtol=1e-5
        )
    batch = NeuralNetClassifier(callbacks=[("batches", _BatchCounter())], **NET)
    with pytest.raises(ValueError, match=r"'batches' acts on every batch \(on_batch_end\)"):
        fit_members(batch, X, y, plans, engine="vectorized")
    with pytest.raises(ValueError, match="compile=True"):
        fit_members(NeuralNetClassifier(compile=True, **NET), X, y, plans, engine="vectorized")


class _HalveLr(Callback):
    """An epoch-level schedule written by hand: halves the learning rate every epoch."""

    def on_epoch_end(self, net, **kwargs):
        for group in net.optimizer_.param_groups:
            group["lr"] /= 2


@pytest.mark.parametrize("params", [{"max_epochs": 4}, EARLY], ids=["all-epochs", "early-stop"])
def test_optimizer_settings_changed_by_epoch_callbacks_reach_the_stack(digits, params):
    """Also after a member stopped early and the stack went on without it."""
    X, y = digits
    net = NeuralNetClassifier(callbacks=[("halve", _HalveLr())], **{**NET, **params})
    plans = [MemberPlan(seed) for seed in range(4)]
    stacked = fit_members(net, X, y, plans, engine="vectorized")
    plain = fit_members(net, X, y, plans, engine="joblib")
    assert [len(m.history) for m in stacked] == [len(m.history) for m in plain]
    _assert_members_equal(stacked, plain, X, plans)
    for left, right in zip(stacked, plain, strict=True):
        assert left.optimizer_.param_groups[0]["lr"] == right.optimizer_.param_groups[0]["lr"]
        assert left.optimizer_.param_groups[0]["lr"] < NET["lr"] / 8


def test_members_verbose_output_and_the_progress_bar(digits, capsys):
    X, y = digits
    net = NeuralNetClassifier(verbose=1, **NET)
    plans = [MemberPlan(seed) for seed in range(4)]
    fit_members(net, X, y, plans, engine="vectorized", n_jobs=2, verbose=1)
    out, err = capsys.readouterr()
    # Each member prints its own table of epochs (the workers' output reaches the terminal
    # in processes; here with the threading of one task's members in this process).
    assert "fitting 4 members in 2 stacked tasks" in err
    members = fit_members(net, X, y, plans, engine="vectorized", verbose=1)
    out, err = capsys.readouterr()
    assert "fitting 4 members in 1 stacked task" in err and "4/4 members" in err
    # One table: the header once, with a member column, then each epoch's rows in order.
    lines = out.splitlines()
    assert out.count("train_loss") == 1 and lines[0].split() == [
        "member", "epoch", "train_loss", "dur"
    ]  # fmt: skip
    rows = [line.split()[:2] for line in lines[2:]]
    expected = [[str(m), str(e)] for e in range(1, NET["max_epochs"] + 1) for m in range(4)]
    assert rows == expected
    # A member's own table is back for its own fits (its sink was lent, not taken).
    members[0].set_params(max_epochs=1).partial_fit(X[:50], y[:50])
    (line,) = capsys.readouterr().out.splitlines()  # its table goes on at epoch 4
    assert line.split()[0] == str(NET["max_epochs"] + 1)


def test_regressor_members_with_weights_rows_and_features(regression):
    X, y = regression
    rng = np.random.RandomState(0)
    plans = [
        MemberPlan(
            seed,
            rows=rng.randint(0, len(X), len(X)),
            features=np.sort(rng.choice(5, 3, replace=False)),
            sample_weight=rng.uniform(0.5, 2, len(X)),
        )
        for seed in range(4)
    ]
    net = NeuralNetRegressor(**NET)
    joblib = fit_members(net, X, y, plans, engine="joblib")
    vectorized = fit_members(net, X, y, plans, engine="vectorized")
    _assert_members_equal(joblib, vectorized, X, plans)


def test_members_of_uneven_shapes_are_grouped(digits):
    """Folds of different sizes, and a member whose rows miss classes, still train."""
    X, y = digits
    plans = [
        MemberPlan(0, rows=np.arange(300)),
        MemberPlan(1, rows=np.arange(301)),
        MemberPlan(2, rows=np.flatnonzero(y < 5)),
        MemberPlan(3, rows=np.arange(100, 400)),
    ]
    net = NeuralNetClassifier(**NET)
    joblib = fit_members(net, X, y, plans, engine="joblib")
    vectorized = fit_members(net, X, y, plans, engine="vectorized")
    assert [len(m.classes_) for m in vectorized] == [10, 10, 5, 10]
    _assert_members_equal(joblib, vectorized, X, plans)


def test_memory_guard_splits_members_into_chunks(digits, monkeypatch):
    X, y = digits
    plans = [MemberPlan(seed) for seed in range(3)]
    net = NeuralNetClassifier(**NET)
    whole = fit_members(net, X, y, plans, engine="vectorized")
    sizes = []

    class Recorded(_stacked._Stack):
        def __init__(self, members, rows, X, shared):
            sizes.append(len(members))
            super().__init__(members, rows, X, shared)

    monkeypatch.setattr(_stack_memory, "_available_memory", lambda device: 1)
    monkeypatch.setattr(_stacked, "_Stack", Recorded)
    chunked = fit_members(net, X, y, plans, engine="vectorized")
    assert sizes == [1, 1, 1]
    for a, b in zip(whole, chunked, strict=True):
        for left, right in zip(_weights(a), _weights(b), strict=True):
            assert torch.equal(left, right)


def test_auto_falls_back_and_vectorized_says_why(digits):
    X, y = digits
    plans = [MemberPlan(seed) for seed in range(2)]
    with_callback = NeuralNetClassifier(callbacks=[("ema", EMA(0.5))], **NET)
    auto = fit_members(with_callback, X, y, plans, engine="auto")
    joblib = fit_members(with_callback, X, y, plans, engine="joblib")
    _assert_members_equal(auto, joblib, X, plans)
    with pytest.raises(ValueError, match="cannot train these members: the callback 'ema'"):
        fit_members(with_callback, X, y, plans, engine="vectorized")
    with pytest.raises(ValueError, match="DecisionTreeClassifier, which has no stacked"):
        fit_members(DecisionTreeClassifier(), X, y, plans, engine="vectorized")
    with pytest.raises(ValueError, match="engine must be one of"):
        fit_members(with_callback, X, y, plans, engine="gpu")


@pytest.fixture(scope="module")
def bagged(digits):
    X, y = digits
    net = NeuralNetClassifier(**{**NET, "max_epochs": 10})
    params = {"n_estimators": 5, "max_features": 0.75, "random_state": 0}
    return (
        BaggingClassifier(net, engine="vectorized", **params).fit(X, y),
        BaggingClassifier(net, engine="joblib", n_jobs=2, **params).fit(X, y),
    )


def test_bagging_stacked_equals_joblib_and_members_are_ordinary_nets(digits, bagged):
    X, y = digits
    vectorized, joblib = bagged
    np.testing.assert_allclose(vectorized.predict_proba(X), joblib.predict_proba(X), atol=ATOL)
    restored = pickle.loads(pickle.dumps(vectorized))
    np.testing.assert_array_equal(restored.predict_proba(X), vectorized.predict_proba(X))
    member = vectorized[0]
    assert type(member) is NeuralNetClassifier and not hasattr(member, "_shuffle")
    features = vectorized.estimators_features_[0]
    refit = clone(member).fit(X[:, features], member.classes_[y])
    soup = model_soup([member, refit], X[:, features], member.classes_[y])
    assert soup.predict(X[:, features]).shape == (len(X),)
    # partial_fit trains max_epochs more epochs (skorch), continuing the vectorized history.
    assert member.partial_fit(X[:, features], y).history[:, "epoch"] == list(range(1, 21))


def test_ensembles_agree_across_engines_over_seeds(digits):
    """The statistical check: accuracies of both engines within noise, seed after seed."""
    X, y = digits
    X_test, y_test, X, y = X[300:], y[300:], X[:300], y[:300]
    net = NeuralNetClassifier(**{**NET, "max_epochs": 8, "module__dropout": 0.2})
    for seed in range(3):
        scores = {}
        for engine in ("vectorized", "joblib"):
            ens = DeepEnsembleClassifier(net, n_estimators=3, random_state=seed, engine=engine)
            ens.fit(X, y)
            members = [m.score(X_test, y_test) for m in ens]
            scores[engine] = (ens.score(X_test, y_test), np.mean(members))
        np.testing.assert_allclose(scores["vectorized"], scores["joblib"], atol=0.02)


def test_cv_ensemble_and_bagging_regressor_and_bias_variance(digits, regression):
    X, y = digits
    net = NeuralNetClassifier(**NET)
    cv = {
        engine: CVEnsembleClassifier(net, cv=3, random_state=0, engine=engine).fit(X, y)
        for engine in ("vectorized", "joblib")
    }
    np.testing.assert_allclose(
        cv["vectorized"].oof_predictions_, cv["joblib"].oof_predictions_, atol=ATOL
    )
    Xr, yr = regression
    reg = NeuralNetRegressor(**NET)
    a = BaggingRegressor(reg, n_estimators=3, random_state=0, engine="vectorized").fit(Xr, yr)
    b = BaggingRegressor(reg, n_estimators=3, random_state=0, engine="joblib").fit(Xr, yr)
    np.testing.assert_allclose(a.predict(Xr), b.predict(Xr), atol=ATOL)
    results = [
        bias_variance_decomp(
            reg, Xr[:150], yr[:150], Xr[150:], yr[150:], loss="mse", n_rounds=4,
            random_state=0, engine=engine,
        )
        for engine in ("vectorized", "joblib")
    ]  # fmt: skip
    assert results[0].expected_loss == pytest.approx(results[1].expected_loss, rel=1e-4)
    assert results[0].variance == pytest.approx(results[1].variance, rel=1e-3)


def test_engine_is_a_searchable_validated_parameter(digits):
    X, y = digits
    ens = DeepEnsembleClassifier(NeuralNetClassifier(**NET), n_estimators=2, engine="fast")
    with pytest.raises(ValueError, match="'engine' parameter"):
        ens.fit(X, y)
    assert clone(ens.set_params(engine="joblib")).get_params()["engine"] == "joblib"


def test_ensembles_predict_their_members_in_one_stacked_pass(digits, bagged):
    """Validated once, one stacked forward: the members' own predictions, and a member that
    trains on is seen at the next prediction."""
    X, y = digits
    stacked, _ = bagged
    bag = pickle.loads(pickle.dumps(stacked))
    n_classes = len(bag.classes_)

    def members_mean():
        probas = []
        for member, features in zip(bag, bag.estimators_features_, strict=True):
            proba = np.zeros((len(X), n_classes))
            proba[:, member.classes_] = member.predict_proba(X[:, features])
            probas.append(proba)
        return np.mean(probas, axis=0)

    np.testing.assert_allclose(bag.predict_proba(X), members_mean(), atol=1e-6)
    before = bag.predict_proba(X)
    features = bag.estimators_features_[0]
    bag[0].partial_fit(X[:, features], y)
    after = bag.predict_proba(X)
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, members_mean(), atol=1e-6)
    with pytest.raises(ValueError, match="NaN or infinity"):
        bag.predict_proba(np.where(X == X.max(), np.nan, X))


@pytest.mark.parametrize("chunk", [1, 150, 400])
def test_stacked_prediction_goes_in_chunks_sized_by_free_memory(digits, bagged, monkeypatch, chunk):
    """The rows go through in chunks whose activations fit a quarter of the free memory
    (here a row, 150 rows, all 400): each member's own prediction, on random subspaces
    too, in any chunks; no rows at all give empty outputs of the right width."""
    X, _ = digits
    bag = pickle.loads(pickle.dumps(bagged[0]))
    ((indices, *_, per_row),) = StackedPredictor(list(bag), bag.estimators_features_).stacks
    stack_row = len(indices) * per_row
    monkeypatch.setattr(_stack_predict, "_available_memory", lambda device: 4 * chunk * stack_row)
    monkeypatch.setattr(_stack_predict, "SMALL_PREDICTION_BYTES", 0)
    calls = []
    forward = _stack_predict.stacked_forward
    monkeypatch.setattr(
        _stack_predict, "stacked_forward", lambda *a, **k: calls.append(1) or forward(*a, **k)
    )
    members = bag.predict_members(X)
    assert len(calls) == -(-len(X) // chunk)
    for member, features, proba in zip(bag, bag.estimators_features_, members, strict=True):
        own = np.zeros_like(proba)
        own[:, member.classes_] = member.predict_proba(X[:, features])
        np.testing.assert_allclose(proba, own, atol=1e-6)
    predictor = StackedPredictor(list(bag), bag.estimators_features_)
    assert [out.shape for out in predictor(X[:0])] == [(0, len(bag.classes_))] * len(bag)


def test_a_stacked_prediction_chunk_is_capped_on_the_cpu(monkeypatch):
    """However much memory is free, a CPU chunk stays near the caches (measured fastest)."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(_stack_predict, "_available_memory", lambda device: 10**15)
    limit = _stack_predict.PREDICT_CHUNK_BYTES["cpu"]
    assert _stack_predict._rows_per_chunk(cpu, 1000, 10**9) == limit // 1000
    assert _stack_predict._rows_per_chunk(cpu, 1000, 7) == 7
    monkeypatch.setattr(_stack_predict, "_available_memory", lambda device: 0)
    assert _stack_predict._rows_per_chunk(cpu, 1000, 7) == 7  # too small to ask what is free
    monkeypatch.setattr(_stack_predict, "SMALL_PREDICTION_BYTES", 0)
    assert _stack_predict._rows_per_chunk(cpu, 1000, 7) == 1


# ---------------------------------------------------------------------------- any module
class DigitsCNN(torch.nn.Module):
    """A small CNN for the 8x8 digit images, with optional BatchNorm and a residual block."""

    def __init__(self, n_features=64, n_outputs=10, channels=4, dropout=0.25, batch_norm=False):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, channels, 3, padding=1)
        self.norm = torch.nn.BatchNorm2d(channels) if batch_norm else torch.nn.Identity()
        self.block = torch.nn.Conv2d(channels, channels, 3, padding=1)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(channels * 16, n_outputs)

    def forward(self, X):
        h = torch.relu(self.norm(self.conv(X.view(-1, 1, 8, 8))))
        h = h + torch.relu(self.block(h))  # residual
        h = torch.nn.functional.max_pool2d(h, 2).flatten(1)
        return self.out(self.drop(h))


class ChannelDropoutNet(torch.nn.Module):
    """Channel-wise dropout (dropout2d) and the functional form, on a linear stem."""

    def __init__(self, n_features=64, n_outputs=10):
        super().__init__()
        self.stem = torch.nn.Linear(n_features, 32)
        self.out = torch.nn.Linear(32, n_outputs)

    def forward(self, X):
        h = torch.relu(self.stem(X)).view(-1, 8, 2, 2)
        h = torch.nn.functional.dropout2d(h, 0.3, self.training)
        h = torch.nn.functional.dropout(h.flatten(1), p=0.2, training=self.training)
        return self.out(h)


class BranchyNet(ChannelDropoutNet):
    def forward(self, X):
        h = self.stem(X)
        return self.out(h if h.mean() > 0 else -h)  # data-dependent control flow


class NoisyNet(ChannelDropoutNet):
    def forward(self, X):
        h = self.stem(X)
        return self.out(h + 0.1 * torch.randn_like(h) * self.training)


class TotalingNet(ChannelDropoutNet):
    """Keeps a running total of its inputs in a plain tensor (not a registered buffer)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.total = torch.zeros(())

    def forward(self, X):
        self.total.add_(X.sum())
        return self.out(self.stem(X))


class SummedLoss(torch.nn.Module):
    """A criterion that only gives the batch's total loss."""

    def forward(self, output, target):
        return torch.nn.functional.cross_entropy(output, target, reduction="sum")


CNN = {"module": DigitsCNN, "max_epochs": 3, "lr": 1e-2, "batch_size": 64}
COSINE = LRScheduler(policy="CosineAnnealingLR", T_max=3)
ONE_CYCLE = LRScheduler(
    policy=torch.optim.lr_scheduler.OneCycleLR, max_lr=0.02, total_steps=60, step_every="batch"
)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"module": ChannelDropoutNet},
        {"optimizer": torch.optim.SGD, "module__batch_norm": True},
        {"criterion": FocalLoss, "criterion__gamma": 2.0, "class_weight": "balanced"},
        {"optimizer": torch.optim.SGD, "optimizer__momentum": 0.9, "callbacks": [COSINE]},
        {"callbacks": [ONE_CYCLE]},
        # Adam at a learning rate of 1e-2 grows a CNN's float rounding past 1e-5 in
        # six epochs (its first steps are sign steps); 1e-3 keeps it at 1e-8.
        {**EARLY, "max_epochs": 6, "lr": 1e-3},
    ],
    ids=["cnn-dropout", "channel-dropout", "batch-norm-sgd", "focal-class-weight",
         "sgd-momentum-cosine", "one-cycle-every-batch", "early-stopping"],
)  # fmt: skip
def test_any_module_trains_stacked_as_its_plain_fit(digits, params):
    X, y = digits
    net = NeuralNetClassifier(**{**CNN, **params})
    assert net.stacking_blocker(X, y, [MemberPlan(0)]) is None
    plans = [MemberPlan(seed) for seed in (3, 7)]
    members = fit_members(net, X, y, plans, engine="vectorized")
    for member, plan in zip(members, plans, strict=True):
        plain = set_random_states(clone(net), plan.seed).fit(X, y)
        np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)
        _assert_same_history(member, plain)
        member.partial_fit(X, y)
        plain.partial_fit(X, y)
        np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)
    if "callbacks" in params:  # the schedule ran on each member's own optimizer
        batches = params["callbacks"][0].step_every == "batch"
        key = (
            (slice(None), "batches", slice(None), "event_lr")
            if batches
            else (slice(None), "event_lr")
        )
        assert members[-1].history[key] == plain.history[key]
        assert len(set(np.ravel(plain.history[key]))) > 2


def test_a_module_member_does_not_depend_on_its_stack_mates(digits):
    """Bit for bit, alone too: torch's kernels for a lone member round differently."""
    X, y = digits
    rng = np.random.RandomState(0)
    plans = [MemberPlan(seed, rows=rng.randint(0, len(X), len(X))) for seed in range(4)]
    net = NeuralNetClassifier(**{**CNN, "max_epochs": 2})
    together = fit_members(net, X, y, plans, engine="vectorized")[1]
    for mates in ([1], [1, 3], [0, 2, 3, 1]):
        members = fit_members(net, X, y, [plans[i] for i in mates], engine="vectorized")
        alone = members[mates.index(1)]
        for a, b in zip(_weights(alone), _weights(together), strict=True):
            assert torch.equal(a, b)


@pytest.mark.parametrize(
    "optimizer", _stack_blockers.ELEMENTWISE_OPTIMIZERS, ids=lambda o: o.__name__
)
def test_every_elementwise_optimizer_steps_members_as_their_own_fits(digits, optimizer):
    X, y = digits
    net = NeuralNetClassifier(optimizer=optimizer, **{**NET, "max_epochs": 2, "lr": 1e-3})
    (member,) = fit_members(net, X, y, [MemberPlan(5)], engine="vectorized")
    plain = set_random_states(clone(net), 5).fit(X, y)
    np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)


@pytest.mark.parametrize("module", [None, DigitsCNN], ids=["mlp", "cnn"])
def test_members_with_their_own_learning_rates_share_a_stack(digits, module):
    """Learning rates set per member, and a scheduler that follows each member's own
    validation loss: members with different settings train in parameter groups."""
    X, y = digits
    plateau = LRScheduler(
        policy="ReduceLROnPlateau", monitor="valid_loss", patience=0, threshold=0.05
    )
    base = NET if module is None else {**CNN, "module": module}
    net = NeuralNetClassifier(**{**base, **EARLY, "max_epochs": 8, "callbacks": [plateau]})
    lrs = [1e-2, 3e-3, 1e-2, 3e-2]
    members = [clone(net).set_params(lr=lr, random_state=s) for s, lr in enumerate(lrs)]
    plans = [MemberPlan(None) for _ in lrs]
    net.fit_stacked(members, X, y, plans)
    factors = set()
    for member, lr, seed in zip(members, lrs, range(4), strict=True):
        plain = clone(net).set_params(lr=lr, random_state=seed).fit(X, y)
        np.testing.assert_allclose(member.predict_proba(X), plain.predict_proba(X), atol=ATOL)
        assert member.history[:, "event_lr"] == plain.history[:, "event_lr"]
        factors.add(member.optimizer_.param_groups[0]["lr"] / lr)
    assert len(factors) > 1  # the schedules parted


REFUSALS = {
    "control-flow": (
        {"module": BranchyNet},
        "vmap cannot run the module BranchyNet (RuntimeError: vmap: It looks like you're "
        "attempting to use a Tensor in some data-dependent control flow)",
    ),
    "random-op": (
        {"module": NoisyNet},
        "the module NoisyNet draws random numbers other than through torch's dropout",
    ),
    "in-place-attribute": (
        {"module": TotalingNet},
        "vmap cannot run the module TotalingNet (RuntimeError: output with shape [] doesn't "
        "match the broadcast shape [2])",
    ),
    "summed-loss": ({"criterion": SummedLoss}, "the criterion SummedLoss gives no per-row"),
    "lbfgs": ({"optimizer": torch.optim.LBFGS}, "the optimizer LBFGS is not one whose update"),
    "batch-callback": (
        {"callbacks": [("ema", EMA(0.5))]},
        "the callback 'ema' acts on every batch",
    ),
}


@pytest.mark.parametrize(("params", "reason"), REFUSALS.values(), ids=REFUSALS)
def test_what_cannot_be_stacked_is_found_before_training(digits, params, reason, monkeypatch):
    X, y = digits
    net = NeuralNetClassifier(**{**CNN, "module": ChannelDropoutNet, **params})
    plans = [MemberPlan(seed) for seed in range(2)]
    assert reason in net.stacking_blocker(X, y, plans)
    monkeypatch.setattr(_stacked, "_Stack", None)  # no stack is ever built
    with pytest.raises(ValueError, match=re.escape(reason)):
        fit_members(net, X, y, plans, engine="vectorized")
    if params.get("module") is BranchyNet:  # auto fits them one by one instead
        auto = fit_members(net, X, y, plans, engine="auto")
        joblib = fit_members(net, X, y, plans, engine="joblib")
        _assert_members_equal(auto, joblib, X, plans)


def test_cnn_deep_ensemble_pickles_and_predicts_its_members_in_one_pass(digits):
    X, y = digits
    ensembles = [
        DeepEnsembleClassifier(NeuralNetClassifier(**CNN), n_estimators=3, engine=engine,
                               random_state=0).fit(X, y)
        for engine in ("vectorized", "joblib")
    ]  # fmt: skip
    stacked, plain = ensembles
    np.testing.assert_allclose(stacked.predict_proba(X), plain.predict_proba(X), atol=ATOL)
    again = pickle.loads(pickle.dumps(stacked))
    np.testing.assert_array_equal(again.predict_proba(X), stacked.predict_proba(X))
    # One vmapped forward of the three CNNs, in batches of rows: their own predictions.
    members_mean = np.mean([m.predict_proba(X) for m in again], axis=0)
    np.testing.assert_allclose(again.predict_proba(X), members_mean, atol=1e-6)
    ((indices, *_),) = _base._PREDICTORS[again].stacks
    assert indices == [0, 1, 2]


def test_members_vmap_cannot_run_predict_one_by_one(digits):
    X, y = digits
    net = NeuralNetClassifier(**{**CNN, "module": BranchyNet})
    ensemble = DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X, y)
    members_mean = np.mean([m.predict_proba(X) for m in ensemble], axis=0)
    np.testing.assert_allclose(ensemble.predict_proba(X), members_mean, atol=1e-6)
    assert _base._PREDICTORS[ensemble].stacks == []


@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_module_members_are_the_same_for_any_n_jobs_and_backend(digits, backend, engine):
    X, y = digits
    rng = np.random.RandomState(1)
    plans = [MemberPlan(seed, rows=rng.randint(0, len(X), len(X))) for seed in range(3)]
    net = NeuralNetClassifier(**{**CNN, "max_epochs": 2})
    one = fit_members(net, X, y, plans, engine=engine)
    with parallel_config(backend=backend):
        two = fit_members(net, X, y, plans, engine=engine, n_jobs=2)
    for a, b in zip(one, two, strict=True):
        for left, right in zip(_weights(a), _weights(b), strict=True):
            assert torch.equal(left, right)


def test_members_share_their_targets_and_get_them_back_exactly_when_they_differ():
    """K members on n rows keep one copy of the encoded targets; a member that encodes a
    row differently ends the sharing, and every member has its own targets again."""
    from ensemblekit.nets._data import SharedTargets, _Rows

    shared = SharedTargets(4)
    a = _Rows(np.array([0, 1, 1]), np.array([1, 2, 2]), None)
    b = _Rows(np.array([1, 2]), np.array([2, 0]), None)
    shared.take(a)
    shared.take(b)
    assert a.y is None and b.y is None and shared.values.tolist() == [1, 2, 0, 0]
    c = _Rows(np.array([3, 0]), np.array([1, 5]), None)  # row 0 is 1 to the others
    shared.take(c)
    assert not shared.active
    assert a.y.tolist() == [1, 2, 2] and b.y.tolist() == [2, 0] and c.y.tolist() == [1, 5]
    shared.take(_Rows(np.array([0]), np.array([1]), None))  # stopped: nothing is shared


def test_plans_keep_row_indices_compact():
    plan = MemberPlan(0, rows=np.array([0, 5, 5], dtype=np.int64), valid_rows=np.array([1]))
    assert plan.rows.dtype == np.int32 and plan.valid_rows.dtype == np.int32
    assert plan.rows.tolist() == [0, 5, 5]
    assert MemberPlan(0, rows=np.array([2**31])).rows.dtype == np.int64  # too large for int32
