"""Bagging, pasting, subspaces and deep ensembles: plans, combiners, determinism, errors."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import Perceptron
from sklearn.metrics import log_loss
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import (
    BaggingClassifier,
    BaggingRegressor,
    DeepEnsembleClassifier,
    DeepEnsembleRegressor,
)
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def small_net(tiny_net_params):
    return NeuralNetClassifier(**tiny_net_params)


@pytest.fixture(scope="module")
def bagged_nets(digits, small_net):
    X, y = digits
    bag = BaggingClassifier(small_net, n_estimators=4, max_features=0.5, random_state=0)
    return bag.fit(X, y)


class _Spy(ClassifierMixin, BaseEstimator):
    """Records the rows (first column holds the row id) and weights each member received."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        self.rows_ = X[:, 0].astype(int)
        self.weight_ = sample_weight
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class _SpyNoWeight(_Spy):
    def fit(self, X, y):
        return super().fit(X, y)


def _with_row_ids(X):
    return np.c_[np.arange(len(X)), X]


# ---------------------------------------------------------------- determinism
ENGINES = ["vectorized", "joblib"]
CONFIGS = {
    "n_jobs=2": ({}, 2),
    "threading": ({"backend": "threading"}, 2),
    "loky": ({"backend": "loky"}, 2),
}


@pytest.fixture(scope="module", params=ENGINES)
def reference(request, digits, bagged_nets):
    """Bagging and a deep ensemble fitted with n_jobs=1 by one engine (the reference)."""
    X, y = digits
    bag = clone(bagged_nets).set_params(engine=request.param).fit(X, y)
    deep = DeepEnsembleClassifier(
        bagged_nets.estimator, n_estimators=3, random_state=0, engine=request.param
    ).fit(X, y)
    return bag, deep


def _assert_same(fitted, reference, X):
    np.testing.assert_array_equal(fitted.predict_proba(X), reference.predict_proba(X))
    for a, b in zip(fitted, reference, strict=True):
        assert a.history[:, "train_loss"] == b.history[:, "train_loss"]


@pytest.mark.parametrize("config", list(CONFIGS), ids=list(CONFIGS))
def test_ensembles_are_identical_for_any_n_jobs_and_backend(digits, reference, config):
    """Stacked or one by one, n_jobs=2 (two tasks, two workers) gives n_jobs=1's members."""
    X, y = digits
    options, n_jobs = CONFIGS[config]
    for fitted in reference:
        with joblib.parallel_config(**options):
            other = clone(fitted).set_params(n_jobs=n_jobs).fit(X, y)
        _assert_same(other, fitted, X)


def test_both_engines_give_the_same_ensemble_up_to_rounding(digits, bagged_nets):
    X, y = digits
    joblib_bag = clone(bagged_nets).set_params(engine="joblib").fit(X, y)
    stacked_bag = clone(bagged_nets).set_params(engine="vectorized").fit(X, y)
    np.testing.assert_allclose(joblib_bag.predict_proba(X), stacked_bag.predict_proba(X), atol=1e-5)


@pytest.mark.slow
def test_ensembles_are_identical_on_a_dask_cluster_that_gets_the_tasks(digits, reference):
    distributed = pytest.importorskip("distributed")
    X, y = digits
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
    ):
        for fitted in reference:
            with distributed.get_task_stream(client) as tasks:
                other = clone(fitted).fit(X, y)
            # Two workers: the members went out in (at least) two tasks to the cluster, and
            # stacked tasks (one per worker) ran on both workers, not queued on one.
            workers = {task["worker"] for task in tasks.data}
            assert len(tasks.data) >= 2 and len(workers) == 2, tasks.data
            _assert_same(other, fitted, X)


# ---------------------------------------------------------------- plans
def test_members_get_their_drawn_rows_with_each_rows_weight(digits):
    X, y = digits
    weights = np.linspace(0.5, 2.0, len(y))
    bag = BaggingClassifier(_Spy(), n_estimators=3, random_state=0)
    bag.fit(_with_row_ids(X), y, sample_weight=weights)
    for member, drawn in zip(bag, bag.estimators_samples_, strict=True):
        assert len(drawn) == len(y) > len(np.unique(drawn))  # a bootstrap: repeats
        np.testing.assert_array_equal(member.rows_, drawn)
        np.testing.assert_allclose(member.weight_, weights[drawn])


def test_sample_weight_is_refused_for_members_that_cannot_take_it(digits):
    X, y = digits
    bag = BaggingClassifier(_SpyNoWeight(), n_estimators=2, random_state=0).fit(X, y)
    assert len(bag) == 2
    with pytest.raises(ValueError, match="does not take sample_weight"):
        clone(bag).fit(X, y, sample_weight=np.ones(len(y)))


def test_pasting_and_patches(digits):
    X, y = digits
    bag = BaggingClassifier(
        _Spy(), n_estimators=3, max_samples=0.5, max_features=10, bootstrap=False,
        bootstrap_features=False, random_state=0,
    ).fit(X, y)  # fmt: skip
    for drawn, features in zip(bag.estimators_samples_, bag.estimators_features_, strict=True):
        assert len(drawn) == len(np.unique(drawn)) == 200
        assert len(features) == len(np.unique(features)) == 10
    assert {m.weight_ is None for m in bag} == {True}  # pasting: no weights needed


def test_random_subspaces_reach_the_nets(bagged_nets, digits):
    X, _ = digits
    for member, features in zip(bagged_nets, bagged_nets.estimators_features_, strict=True):
        assert member.module_.layers[0].in_features == len(features) == 32
    member_proba = bagged_nets[1].predict_proba(X[:, bagged_nets.estimators_features_[1]])
    np.testing.assert_allclose(bagged_nets._member_output(1, X), member_proba)


def test_soft_voting_is_the_mean_of_member_probabilities(bagged_nets, digits):
    X, _ = digits
    members = [
        m.predict_proba(X[:, f])
        for m, f in zip(bagged_nets, bagged_nets.estimators_features_, strict=True)
    ]
    np.testing.assert_allclose(bagged_nets.predict_proba(X), np.mean(members, axis=0))


def test_members_missing_a_class_are_aligned(digits):
    X, y = digits
    rare = np.r_[np.flatnonzero(y != 9), np.flatnonzero(y == 9)[:2]]
    bag = BaggingClassifier(
        DecisionTreeClassifier(), n_estimators=8, max_samples=0.3, random_state=0
    ).fit(X[rare], y[rare])
    assert any(len(m.classes_) < 10 for m in bag)
    proba = bag.predict_proba(X)
    assert proba.shape == (len(X), 10)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


# ---------------------------------------------------------------- oob
def test_oob_decision_function_matches_a_manual_computation(digits):
    X, y = digits
    bag = BaggingClassifier(
        DecisionTreeClassifier(), n_estimators=15, max_features=0.7, oob_score=True,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    total, seen = np.zeros((len(X), 10)), np.zeros(len(X))
    for i, drawn in enumerate(bag.estimators_samples_):
        out = np.setdiff1d(np.arange(len(X)), drawn)
        total[out] += bag[i].predict_proba(X[out][:, bag.estimators_features_[i]])
        seen[out] += 1
    expected = total / seen[:, None]
    np.testing.assert_allclose(bag.oob_decision_function_, expected)
    assert bag.oob_score_ == pytest.approx(np.mean(y == np.argmax(expected, axis=1)))


def test_oob_regression_and_the_warning_for_rows_never_left_out(regression):
    X, y = regression
    with pytest.warns(UserWarning, match="no OOB prediction"):
        few = BaggingRegressor(DecisionTreeRegressor(), n_estimators=2, oob_score=True).fit(X, y)
    assert np.isnan(few.oob_prediction_).any()
    bag = BaggingRegressor(
        DecisionTreeRegressor(), n_estimators=30, oob_score=True, random_state=0
    ).fit(X, y)
    assert 0.3 < bag.oob_score_ < bag.score(X, y)


def test_oob_needs_rows_left_out(digits):
    X, y = digits
    with pytest.raises(ValueError, match="oob_score=True needs rows left out"):
        BaggingClassifier(DecisionTreeClassifier(), bootstrap=False, oob_score=True).fit(X, y)


# ---------------------------------------------------------------- warm start
def test_warm_start_equals_one_fit(digits):
    X, y = digits
    bag = BaggingClassifier(
        DecisionTreeClassifier(), n_estimators=3, warm_start=True, random_state=0
    )
    bag.fit(X, y)
    first = list(bag.estimators_)
    bag.set_params(n_estimators=6).fit(X, y)
    assert bag.estimators_[:3] == first
    cold = BaggingClassifier(DecisionTreeClassifier(), n_estimators=6, random_state=0).fit(X, y)
    np.testing.assert_array_equal(bag.predict_proba(X), cold.predict_proba(X))
    with pytest.raises(ValueError, match="below the 6 members already"):
        bag.set_params(n_estimators=2).fit(X, y)


# ---------------------------------------------------------------- the ensemble contract
def test_len_getitem_iter(bagged_nets):
    assert len(bagged_nets) == 4
    assert bagged_nets[0] is bagged_nets.estimators_[0]
    assert list(bagged_nets) == bagged_nets.estimators_


def test_default_estimator_is_a_net(digits):
    X, y = digits
    bag = BaggingClassifier(n_estimators=2, random_state=0).fit(X[:100], y[:100])
    assert isinstance(bag[0], NeuralNetClassifier)
    reg = DeepEnsembleRegressor(n_estimators=2, random_state=0).fit(X[:100], y[:100] / 9.0)
    assert isinstance(reg[0], NeuralNetRegressor)


def test_grid_search_over_nested_net_params_in_a_pipeline(digits, small_net):
    X, y = digits
    pipe = make_pipeline(
        StandardScaler(), BaggingClassifier(small_net, n_estimators=2, random_state=0)
    )
    grid = {
        "baggingclassifier__estimator__module__hidden_units": [(8,), (24,)],
        "baggingclassifier__estimator__lr": [1e-2, 3e-2],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    best = search.best_estimator_[-1]
    hidden = search.best_params_["baggingclassifier__estimator__module__hidden_units"]
    assert best[0].module_.layers[0].out_features == hidden[0]


def test_clone_and_pickle_fitted_ensembles(bagged_nets, digits):
    X, _ = digits
    restored = pickle.loads(pickle.dumps(bagged_nets))
    np.testing.assert_array_equal(restored.predict_proba(X), bagged_nets.predict_proba(X))
    assert not hasattr(clone(bagged_nets), "estimators_")


def test_deep_ensemble_members_differ_only_by_seed_and_help(digits, small_net):
    X, y = digits
    ens = DeepEnsembleClassifier(small_net, n_estimators=4, random_state=0).fit(X, y)
    seeds = {m.random_state for m in ens}
    assert len(seeds) == 4
    for member in ens:
        assert sum(b["train_batch_size"] for b in member.history[0, "batches"]) == len(X)
    member_losses = [log_loss(y, m.predict_proba(X)) for m in ens]
    # Log loss is convex in the probabilities: the average is never worse than the mean loss.
    assert log_loss(y, ens.predict_proba(X)) <= np.mean(member_losses)


def test_deep_regressor_returns_the_spread_of_its_members(regression, tiny_net_params):
    X, y = regression
    ens = DeepEnsembleRegressor(
        NeuralNetRegressor(**tiny_net_params), n_estimators=3, random_state=0
    ).fit(X, y)
    mean, std = ens.predict(X, return_std=True)
    members = np.stack([m.predict(X) for m in ens])
    # The ensemble runs its members in one stacked float32 pass: equal to float32 precision.
    np.testing.assert_allclose(mean, members.mean(axis=0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(std, members.std(axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ens.predict(X), mean)


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_estimators": 0}, "'n_estimators' parameter"),
        ({"max_features": 1.5}, "'max_features' parameter"),
        ({"max_features": 0.0}, "'max_features' parameter"),
        ({"max_features": 100}, "max_features=100 selects 100 of 64"),
        (
            {"max_samples": 5000, "bootstrap": False},
            r"max_samples=5000 selects 5000 of 400 items; .*bootstrap=True",
        ),
        ({"estimator": Perceptron()}, "soft voting"),
    ],
)
def test_bad_parameters_say_what_to_change(digits, params, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        BaggingClassifier(
            **{"estimator": DecisionTreeClassifier(), "n_estimators": 2, **params}
        ).fit(X, y)


def test_bootstrap_draws_may_exceed_the_rows_as_in_scikit_learn(digits):
    from sklearn.ensemble import BaggingClassifier as SkBaggingClassifier

    X, y = digits[0][:100], digits[1][:100]
    ours = BaggingClassifier(DecisionTreeClassifier(), n_estimators=3, max_samples=250)
    ours.fit(X, y)
    assert [len(rows) for rows in ours.estimators_samples_] == [250] * 3
    theirs = SkBaggingClassifier(DecisionTreeClassifier(), n_estimators=3, max_samples=250)
    assert [len(rows) for rows in theirs.fit(X, y).estimators_samples_] == [250] * 3


def test_deep_ensemble_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="'n_estimators' parameter"):
        DeepEnsembleClassifier(n_estimators=0).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        DeepEnsembleClassifier(KNeighborsClassifier()).fit(X, np.zeros(len(y)))
