"""The member engine: plans in, members out, the same for any n_jobs and joblib backend."""

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.engine import MemberPlan, fit_members
from ensemblekit.engine._members import _fit_task
from ensemblekit.engine._progress import progress_bar
from ensemblekit.nets import NeuralNetClassifier
from ensemblekit.utils import draw_seeds, set_random_states

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _plans(n_rows, n_features, n_members=4, seed=0):
    rng = np.random.RandomState(seed)
    return [
        MemberPlan(
            seed=int(s),
            rows=rng.randint(n_rows, size=n_rows),
            features=np.sort(rng.choice(n_features, size=n_features // 2, replace=False)),
        )
        for s in draw_seeds(seed, n_members)
    ]


def _probas(members, X, plans):
    return [m.predict_proba(X[:, p.features]) for m, p in zip(members, plans, strict=True)]


@pytest.fixture(scope="module")
def net(tiny_net_params):
    return NeuralNetClassifier(**tiny_net_params, module__dropout=0.2)


@pytest.fixture(scope="module")
def reference(digits, net):
    X, y = digits
    plans = _plans(*X.shape)
    return plans, _probas(fit_members(net, X, y, plans, n_jobs=1), X, plans)


@pytest.mark.parametrize(
    "config",
    [{"n_jobs": 2}, {"backend": "threading", "n_jobs": 2}, {"backend": "loky", "n_jobs": 2}],
    ids=["n_jobs=2", "threading", "loky"],
)
def test_same_members_for_any_n_jobs_and_backend(digits, net, reference, config):
    X, y = digits
    plans, expected = reference
    n_jobs = config.pop("n_jobs")
    with joblib.parallel_config(**config):
        members = fit_members(net, X, y, plans, n_jobs=n_jobs)
    for got, want in zip(_probas(members, X, plans), expected, strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.slow
def test_dask_backend_gives_the_same_members(digits, net, reference, dask_backend):
    X, y = digits
    plans, expected = reference
    members = fit_members(net, X, y, plans)
    for got, want in zip(_probas(members, X, plans), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_plan_rows_features_and_weights_reach_each_member(digits):
    X, y = digits
    plans = [
        MemberPlan(seed=0, rows=np.arange(100), features=np.array([3, 4, 5])),
        MemberPlan(seed=1, sample_weight=np.r_[np.zeros(200), np.ones(200)]),
    ]
    first, second = fit_members(DecisionTreeClassifier(), X, y, plans)
    assert first.n_features_in_ == 3
    np.testing.assert_array_equal(first.classes_, np.unique(y[:100]))
    # Weight zero on the first 200 rows: the same tree as one fitted on the last 200 alone.
    alone = DecisionTreeClassifier(random_state=second.random_state).fit(X[200:], y[200:])
    np.testing.assert_array_equal(second.predict(X), alone.predict(X))


def test_members_are_seeded_clones_and_the_template_is_untouched(digits):
    X, y = digits
    template = DecisionTreeClassifier(max_features=0.5)
    plans = [MemberPlan(seed=s) for s in (11, 11, 12)]
    a, b, c = fit_members(template, X, y, plans)
    assert a is not template and not hasattr(template, "tree_")
    assert template.random_state is None
    assert a.random_state == b.random_state != c.random_state
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_set_random_states_reaches_nested_params():
    est = NeuralNetClassifier(module__random_state=None)
    seeded = set_random_states(clone(est), 5)
    params = seeded.get_params()
    assert isinstance(params["random_state"], int)
    assert isinstance(params["module__random_state"], int)
    assert params["random_state"] != params["module__random_state"]
    again = set_random_states(clone(est), 5).get_params()
    assert again["random_state"] == params["random_state"]


def test_weights_for_an_estimator_without_sample_weight_fail_early(digits):
    X, y = digits
    with pytest.raises(ValueError, match="does not take sample_weight"):
        fit_members(KNeighborsClassifier(), X, y, [MemberPlan(0, sample_weight=np.ones(len(y)))])


class _ThreadSpy(ClassifierMixin, BaseEstimator):
    """Records how many threads torch had while this member was fitting."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y):
        self.torch_threads_ = torch.get_num_threads()
        self.classes_ = np.unique(y)
        return self


def test_a_worker_task_sets_torch_threads_for_the_task_only(digits):
    X, y = digits
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        # As a worker process runs it (another parent pid): the share for the task, then
        # the worker's own count back.
        _, members, _ = _fit_task(
            (X, y), _ThreadSpy(), [MemberPlan(0)], False, {}, 1, -1, False, lambda f: None
        )
        assert members[0].torch_threads_ == 1
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_torch_gets_its_share_of_the_cores(digits, backend):
    X, y = digits
    before = torch.get_num_threads()
    n_jobs = 2
    share = max(1, joblib.cpu_count() // n_jobs)
    with joblib.parallel_config(backend=backend):
        members = fit_members(_ThreadSpy(), X, y, [MemberPlan(s) for s in range(4)], n_jobs=n_jobs)
    assert {m.torch_threads_ for m in members} == {share}
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("n_jobs", [1, 2], ids=["in-process", "loky-workers"])
def test_verbose_shows_progress_from_any_process(digits, tiny_net_params, n_jobs, capsys):
    X, y = digits
    fit_members(DecisionTreeClassifier(), X, y, [MemberPlan(s) for s in range(3)], verbose=1)
    assert "fitting 3 members" in capsys.readouterr().err
    plans = [MemberPlan(s) for s in range(4)]
    net = NeuralNetClassifier(**tiny_net_params)
    fit_members(net, X, y, plans, engine="vectorized", n_jobs=n_jobs, verbose=1)
    err = capsys.readouterr().err
    # Epochs of stacked members advance the bar, also from worker processes.
    assert f"4 members in {n_jobs} stacked task" in err and "4/4 members" in err


@pytest.mark.parametrize("in_process", [True, False], ids=["threads", "processes"])
def test_the_progress_bar_counts_whole_members(in_process, capsys):
    # Thirds of a member summed as floats come to more than the total: the bar counts
    # ticks, so tqdm neither warns (warnings are errors here) nor shows "8.0/8".
    with progress_bar(1, 8, "8 members", in_process) as report:
        for _ in range(8 * 3):
            report(1 / 3)
        report(1e-9)
    err = capsys.readouterr().err
    assert "8/8 members" in err and "100%" in err and ".0/" not in err


def test_stacked_members_report_every_epoch(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params)
    plans = [MemberPlan(s) for s in range(4)]
    members = [set_random_states(clone(net), p.seed) for p in plans]
    reports = []
    net.fit_stacked(members, X, y, plans, on_epoch=reports.append)
    assert reports == [4 / tiny_net_params["max_epochs"]] * tiny_net_params["max_epochs"]


class _Sleeper(ClassifierMixin, BaseEstimator):
    """Fits in ``delay`` seconds."""

    def __init__(self, delay=0.0):
        self.delay = delay

    def fit(self, X, y):
        import time

        time.sleep(self.delay)
        self.classes_ = np.unique(y)
        return self


@pytest.mark.parametrize("backend", ["loky", "threading"])
def test_on_fitted_hands_back_members_as_they_finish(digits, backend):
    X, y = digits
    # The first member is slow: the others come back, and are handed on, before it.
    plans = [MemberPlan(s, params={"delay": 1.5 if s == 0 else 0.0}) for s in range(4)]
    seen = []
    with joblib.parallel_config(backend=backend):
        members = fit_members(
            _Sleeper(), X, y, plans, n_jobs=2, on_fitted=lambda i, m: seen.append((i, m))
        )
    assert [i for i, _ in seen][-1] == [0]
    assert sorted(i for indices, _ in seen for i in indices) == [0, 1, 2, 3]
    for indices, handed in seen:
        assert handed == [members[i] for i in indices]


def test_on_fitted_with_stacked_tasks_and_a_backend_that_cannot_stream(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params)
    seen = []
    members = fit_members(
        net, X, y, [MemberPlan(s) for s in range(4)], engine="vectorized", n_jobs=2,
        on_fitted=lambda i, m: seen.append(list(i)),
    )  # fmt: skip
    assert sorted(seen) == [[0, 1], [2, 3]] and len(members) == 4
    seen.clear()
    with joblib.parallel_config(backend="multiprocessing"):
        fit_members(
            _Sleeper(), X, y, [MemberPlan(s) for s in range(3)], n_jobs=2,
            on_fitted=lambda i, m: seen.append(list(i)),
        )  # fmt: skip
    assert seen == [[0], [1], [2]]


def test_an_error_in_on_fitted_stops_the_call(digits):
    X, y = digits

    def fail(indices, members):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        fit_members(_Sleeper(), X, y, [MemberPlan(s) for s in range(3)], on_fitted=fail)


_FITTED = []


class _Counted(_Sleeper):
    def fit(self, X, y):
        _FITTED.append(self)
        return super().fit(X, y)


@pytest.mark.parametrize("backend", ["loky", "multiprocessing"])
def test_on_fitted_in_one_process_comes_before_the_next_member_fits(digits, backend):
    X, y = digits
    _FITTED.clear()
    fitted_when_handed = []
    with joblib.parallel_config(backend=backend):
        fit_members(
            _Counted(), X, y, [MemberPlan(s) for s in range(3)], n_jobs=1,
            on_fitted=lambda i, m: fitted_when_handed.append(len(_FITTED)),
        )  # fmt: skip
    assert fitted_when_handed == [1, 2, 3]


def test_cross_fit_is_cross_val_score_and_cross_val_predict_for_a_seeded_learner():
    from sklearn.datasets import load_iris
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.engine import cross_fit

    X, y = load_iris(return_X_y=True)
    splits = list(StratifiedKFold(4, shuffle=True, random_state=0).split(X, y))
    tree = DecisionTreeClassifier(max_depth=2, random_state=3)
    members, scores, oof = cross_fit(tree, X, y, splits, n_classes=3, scoring="accuracy")
    np.testing.assert_array_equal(scores, cross_val_score(tree, X, y, cv=splits))
    expected = cross_val_predict(tree, X, y, cv=splits, method="predict_proba")
    np.testing.assert_array_equal(oof, expected)
    assert [m.random_state for m in members] == [3] * 4  # a set seed is kept
    _, several, none = cross_fit(
        tree, X, y, splits, scoring=["accuracy", "f1_macro"], predictions=False
    )
    assert sorted(several) == ["accuracy", "f1_macro"] and none is None


def test_on_epoch_end_sees_stacked_members_by_plan_and_stops_those_it_names(digits):
    X, y = digits
    net = NeuralNetClassifier(module__hidden_units=(8,), max_epochs=4, batch_size=64)
    plans = [MemberPlan(seed=s) for s in range(4)]
    seen = []

    def on_epoch_end(indices, members):
        seen.append((list(indices), [len(m.history) for m in members]))
        return [2] if len(seen) == 2 else []  # plan 2 stops after its second epoch

    members = fit_members(net, X, y, plans, engine="vectorized", on_epoch_end=on_epoch_end)
    assert [len(m.history) for m in members] == [4, 4, 2, 4]
    assert seen[0] == ([0, 1, 2, 3], [1, 1, 1, 1])
    assert sorted(seen[2][0]) == [0, 1, 3]
    with pytest.raises(ValueError, match="on_epoch_end needs the members to train in this"):
        fit_members(net, X, y, plans, n_jobs=2, on_epoch_end=on_epoch_end)
