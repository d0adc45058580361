"""Snapshot ensembles: the cyclic schedule, the collector and the ensembles built on them."""

import math
import os
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import LambdaLR

from ensemblekit.averaging import SnapshotCollector
from ensemblekit.averaging._snapshots import cycle_ends, cyclic_lr
from ensemblekit.ensemble import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor
from ensemblekit.nets import MLP, NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# 400 digits rows in batches of 100: 4 iterations an epoch.
NET = {"module__hidden_units": (16,), "lr": 0.05, "batch_size": 100, "random_state": 0}


def _net(callbacks=None, max_epochs=6, **kw):
    return NeuralNetClassifier(callbacks=callbacks, max_epochs=max_epochs, **{**NET, **kw})


def _states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)


def _state(net) -> dict:
    return {k: v.detach().cpu() for k, v in net.module_.state_dict().items()}


# ------------------------------------------------------------------ the schedule
def test_cosine_is_huang_et_al_formula_when_snapshots_divide_iterations():
    T, M, lr0 = 12, 3, 0.1
    ends = cycle_ends(T, M)
    c = math.ceil(T / M)
    for t in range(1, T + 1):
        expected = lr0 / 2 * (math.cos(math.pi * ((t - 1) % c) / c) + 1)
        assert cyclic_lr(t, ends, "cosine", lr0) == pytest.approx(expected, rel=1e-15)
    # By hand: a restart at lr0, half-way at lr0/2, last step (1 - cos(pi/4)) / 2 * lr0.
    assert [cyclic_lr(t, ends, "cosine", lr0) for t in (1, 3, 4, 5)] == pytest.approx(
        [0.1, 0.05, 0.1 * (1 - math.sqrt(0.5)) / 2, 0.1]
    )


def test_triangular_rises_to_lr_max_at_mid_cycle_and_ends_at_lr_min():
    ends = cycle_ends(8, 2)
    lrs = [cyclic_lr(t, ends, "triangular", 1.0, 0.2) for t in range(1, 9)]
    assert lrs == pytest.approx([0.6, 1.0, 0.6, 0.2] * 2)


@pytest.mark.parametrize("schedule", ["cosine", "triangular"])
@pytest.mark.parametrize(("T", "M"), [(10, 3), (7, 7), (29, 4), (5, 1)])
def test_uneven_cycles_each_end_at_their_lowest_rate(schedule, T, M):
    ends = cycle_ends(T, M)
    assert len(ends) == M and ends[-1] == T
    lengths = np.diff([0, *ends])
    assert lengths.max() - lengths.min() <= 1
    start = 0
    for end in ends:
        cycle = [cyclic_lr(t, ends, schedule, 1.0) for t in range(start + 1, end + 1)]
        assert cycle[-1] == min(cycle)
        start = end


def test_more_snapshots_than_iterations_is_a_clear_error(digits):
    X, y = digits
    with pytest.raises(ValueError, match="5 snapshots need at least 5 training iterations"):
        cycle_ends(4, 5)
    net = _net([("s", SnapshotCollector(5))], max_epochs=1)
    with pytest.raises(ValueError, match="this fit runs 4"):
        net.fit(X, y)


# ------------------------------------------------------------------ the collector
@pytest.mark.parametrize("schedule", ["cosine", "triangular"])
def test_collector_sets_the_scheduled_rate_on_every_batch(digits, schedule):
    X, y = digits
    collector = SnapshotCollector(3, schedule=schedule, lr_max=0.2, lr_min=0.01)
    net = _net([("s", collector)], max_epochs=5).fit(X, y)
    ends = cycle_ends(5 * 4, 3)
    assert ends == [6, 13, 20]
    expected = [cyclic_lr(t, ends, schedule, 0.2, 0.01) for t in range(1, 21)]
    assert net.history[:, "batches", :, "lr"] == [expected[i : i + 4] for i in range(0, 20, 4)]
    fitted = dict(net.callbacks_)["s"]
    assert fitted.snapshot_iterations_ == ends
    _states_equal(fitted.snapshots_[-1], _state(net))
    assert net.optimizer_.param_groups[0]["lr"] == 0.05  # restored after training


def test_collector_equals_skorch_lr_scheduler_with_the_same_lambda(digits):
    """Peer check: skorch's LRScheduler stepping a LambdaLR every batch trains the same net."""
    X, y = digits
    ends = cycle_ends(6 * 4, 3)
    ours = _net([("s", SnapshotCollector(3, schedule="cosine"))]).fit(X, y)
    # LambdaLR sets step s's factor before batch s + 1 (and once more after the last one).
    factor = lambda s: cyclic_lr(min(s + 1, ends[-1]), ends, "cosine", 1.0)  # noqa: E731
    lam = LRScheduler(LambdaLR, step_every="batch", lr_lambda=factor)
    peer = _net([("lr", lam)]).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), peer.predict_proba(X), atol=1e-6)


def test_checkpoints_without_schedule_are_the_shorter_runs(digits):
    """schedule=None leaves the optimizer alone: snapshot k is the net after k epochs."""
    X, y = digits
    net = _net([("s", SnapshotCollector(3))], max_epochs=6).fit(X, y)
    snapshots = dict(net.callbacks_)["s"].snapshots_
    for k, epochs in enumerate((2, 4, 6)):
        _states_equal(snapshots[k], _state(_net(max_epochs=epochs).fit(X, y)))


def test_collector_writes_files_only_where_it_is_told(digits, tmp_path, monkeypatch):
    X, y = digits
    monkeypatch.chdir(tmp_path)
    in_memory = _net([("s", SnapshotCollector(2, schedule="cosine"))], max_epochs=2).fit(X, y)
    assert os.listdir(tmp_path) == []
    target = tmp_path / "snaps"
    collector = SnapshotCollector(2, schedule="cosine", dirname=target)
    on_disk = _net([("s", collector)], max_epochs=2).fit(X, y)
    paths = dict(on_disk.callbacks_)["s"].snapshots_
    assert sorted(os.listdir(tmp_path)) == ["snaps"]
    assert [os.path.basename(p) for p in paths] == ["snapshot_0.pt", "snapshot_1.pt"]
    for path, state in zip(paths, dict(in_memory.callbacks_)["s"].snapshots_, strict=True):
        _states_equal(torch.load(path, weights_only=True), state)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_snapshots": 0}, "n_snapshots"),
        ({"schedule": "step"}, "schedule"),
        ({"lr_min": 0.5, "lr_max": 0.1}, "lr_min <= lr_max"),
    ],
)
def test_collector_rejects_bad_parameters(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        _net([("s", SnapshotCollector(**params))]).fit(X, y)


def test_collector_is_grid_searchable(digits):
    X, y = digits
    net = _net([("s", SnapshotCollector(2, schedule="cosine"))], max_epochs=2)
    search = GridSearchCV(net, {"callbacks__s__n_snapshots": [1, 4]}, cv=2).fit(X, y)
    assert search.best_params_["callbacks__s__n_snapshots"] in (1, 4)


# ------------------------------------------------------------------ the ensembles
@pytest.fixture(scope="module")
def snapshot_ensemble(digits):
    X, y = digits
    return SnapshotEnsembleClassifier(_net(max_epochs=7), n_estimators=3).fit(X, y)


def test_members_are_the_collectors_snapshots(digits, snapshot_ensemble):
    """7 epochs x 4 batches = 28 iterations: not divisible by 3, still 3 cycles."""
    X, y = digits
    ens = snapshot_ensemble
    assert len(ens) == 3 and ens.snapshot_iterations_ == [9, 18, 28]
    run = _net([("s", SnapshotCollector(3, schedule="cosine"))], max_epochs=7).fit(X, y)
    for member, state in zip(ens, dict(run.callbacks_)["s"].snapshots_, strict=True):
        _states_equal(_state(member), state)
    members = [m.predict_proba(X) for m in ens]
    np.testing.assert_allclose(ens.predict_proba(X), np.mean(members, axis=0))
    # Different points of the run, not copies of one net.
    assert np.abs(members[0] - members[2]).max() > 1e-3


def test_n_average_is_read_at_prediction_time(digits, snapshot_ensemble):
    X, y = digits
    ens = clone(snapshot_ensemble).fit(X, y)
    members = [m.predict_proba(X) for m in ens]
    ens.set_params(n_average=2)
    np.testing.assert_allclose(ens.predict_proba(X), np.mean(members[1:], axis=0))
    ens.set_params(n_average=1)
    np.testing.assert_allclose(ens.predict_proba(X), members[2])
    for bad in (4, 0, 1.5):
        ens.set_params(n_average=bad)
        with pytest.raises(ValueError, match=r"n_average must be None or an int in \[1, 3\]"):
            ens.predict(X)


def test_same_seed_same_ensemble_and_a_seeded_net_keeps_its_seed(digits):
    X, y = digits
    unseeded = _net(max_epochs=2, random_state=None)
    a = SnapshotEnsembleClassifier(unseeded, n_estimators=2, random_state=3).fit(X, y)
    b = SnapshotEnsembleClassifier(unseeded, n_estimators=2, random_state=3).fit(X, y)
    c = SnapshotEnsembleClassifier(unseeded, n_estimators=2, random_state=4).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), c.predict_proba(X))
    seeded = _net(max_epochs=2)
    d = SnapshotEnsembleClassifier(seeded, n_estimators=2, random_state=3).fit(X, y)
    e = SnapshotEnsembleClassifier(seeded, n_estimators=2, random_state=4).fit(X, y)
    np.testing.assert_array_equal(d.predict_proba(X), e.predict_proba(X))


def test_string_labels_pipeline_clone_pickle(digits):
    X, y = digits
    labels = np.array(["zero", "one", "two", "three", "four", "5", "6", "7", "8", "9"])[y]
    pipe = make_pipeline(
        StandardScaler(),
        SnapshotEnsembleClassifier(_net(max_epochs=3), n_estimators=2, schedule="triangular"),
    ).fit(X, labels)
    assert set(pipe.predict(X)) <= set(labels)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    assert clone(pipe).get_params()["snapshotensembleclassifier__estimator__lr"] == 0.05


def test_grid_search_over_snapshots_and_the_nets_parameters(digits):
    X, y = digits
    ens = SnapshotEnsembleClassifier(_net(max_epochs=2), n_estimators=2)
    grid = {"n_estimators": [1, 2], "estimator__lr": [0.01, 0.05], "schedule": ["cosine"]}
    search = GridSearchCV(ens, grid, cv=2).fit(X, y)
    assert len(search.best_estimator_) == search.best_params_["n_estimators"]


def test_bad_estimator_and_lr_range_are_clear_errors(digits):
    from sklearn.linear_model import LogisticRegression

    X, y = digits
    with pytest.raises(ValueError, match="'estimator' parameter"):
        SnapshotEnsembleClassifier(LogisticRegression()).fit(X, y)
    with pytest.raises(ValueError, match=r"lr_max=0\.01 is below lr_min=0\.1"):
        SnapshotEnsembleClassifier(_net(), lr_max=0.01, lr_min=0.1).fit(X, y)
    with pytest.raises(ValueError, match="callbacks cannot be 'disable'"):
        SnapshotEnsembleClassifier(_net(callbacks="disable")).fit(X, y)


def test_regressor_averages_the_last_snapshots(regression):
    X, y = regression
    net = NeuralNetRegressor(max_epochs=6, lr=0.01, batch_size=50, random_state=0)
    ens = SnapshotEnsembleRegressor(net, n_estimators=3, n_average=2).fit(X, y)
    members = np.stack([m.predict(X) for m in ens])
    # One stacked float32 pass for the snapshots: equal to float32 precision.
    np.testing.assert_allclose(ens.predict(X), members[1:].mean(axis=0), rtol=1e-6, atol=1e-7)
    assert ens.score(X, y) > 0.5


# ------------------------------------------------------------------ from checkpoints
def test_from_checkpoints_with_state_dicts_and_saved_files(digits, tmp_path):
    X, y = digits
    labels = np.array(list("abcdefghij"))[y]
    collector = SnapshotCollector(3)
    net = _net([("s", collector)]).fit(X, labels)
    states = dict(net.callbacks_)["s"].snapshots_
    paths = []
    for k, state in enumerate(states):
        copy = _net().fit(X[:50], labels[:50]) if k == 0 else net
        copy.module_.load_state_dict(state)
        paths.append(tmp_path / f"params_{k}.pt")
        copy.save_params(f_params=paths[-1])  # skorch's own format
    from_dicts = SnapshotEnsembleClassifier.from_checkpoints(net, states)
    from_files = SnapshotEnsembleClassifier.from_checkpoints(net, paths, n_average=2)
    probas = []
    for state in states:
        net.module_.load_state_dict(state)
        probas.append(net.predict_proba(X))
    np.testing.assert_allclose(from_dicts.predict_proba(X), np.mean(probas, axis=0))
    np.testing.assert_allclose(from_files.predict_proba(X), np.mean(probas[1:], axis=0))
    assert list(from_dicts.classes_) == list("abcdefghij")
    assert from_dicts.score(X, labels) > 0.5
    with pytest.raises(ValueError, match="X has 3 features"):
        from_dicts.predict(X[:, :3])


def test_from_checkpoints_errors(digits):
    X, y = digits
    net = _net(max_epochs=1).fit(X, y)
    other = MLP(n_features=64, n_outputs=10, hidden_units=(8,))
    with pytest.raises(ValueError, match="checkpoint 1 does not fit the architecture of MLP"):
        SnapshotEnsembleClassifier.from_checkpoints(net, [_state(net), other.state_dict()])
    with pytest.raises(ValueError, match="checkpoints is empty"):
        SnapshotEnsembleClassifier.from_checkpoints(net, [])
    with pytest.raises(ValueError, match="Checkpoint 0 is a int"):
        SnapshotEnsembleClassifier.from_checkpoints(net, [3])
    with pytest.raises(NotFittedError):
        SnapshotEnsembleClassifier.from_checkpoints(_net(), [_state(net)])
