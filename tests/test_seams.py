"""The declared seams between packages: the candidate x fold primitive under the searches,
what a net says of stacked members, how an ensemble's members combine, and searches that
never write their own parameters during fit."""

from typing import ClassVar

import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn.base import BaseEstimator, clone
from sklearn.datasets import make_regression
from sklearn.model_selection import KFold
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

import ensemblekit.ensemble
from ensemblekit.engine import fit_candidates, shared_params
from ensemblekit.ensemble import (
    BaggingRegressor,
    DeepEnsembleRegressor,
    SnapshotEnsembleClassifier,
)
from ensemblekit.model_selection import (
    StackedGridSearchCV,
    StackedHalvingGridSearchCV,
    StackedHalvingRandomSearchCV,
    StackedRandomizedSearchCV,
    predictive_uncertainty,
)
from ensemblekit.model_selection._uncertainty import member_predictions
from ensemblekit.nets import GaussianNLLLoss, NeuralNetClassifier, NeuralNetRegressor
from ensemblekit.utils import draw_seeds, set_random_states

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def folds(binary):
    X, y = binary
    return X.astype(np.float32), y, list(KFold(3, shuffle=True, random_state=0).split(X))


# ------------------------------------------------------------------ fit_candidates
def test_candidates_group_by_what_they_share_and_each_member_is_its_own_fit(
    folds, tiny_net_params, monkeypatch
):
    X, y, splits = folds
    net = NeuralNetClassifier(**tiny_net_params)
    candidates = [
        {"lr": lr, "module__hidden_units": units} for units in [(8,), (16,)] for lr in [1e-2, 3e-2]
    ]
    asked = []
    blocker = NeuralNetClassifier.stacking_blocker
    monkeypatch.setattr(
        NeuralNetClassifier, "stacking_blocker", lambda *a, **k: asked.append(1) or blocker(*a, **k)
    )
    seeds = [int(s) for s in draw_seeds(0, len(splits))]
    fits = fit_candidates(net, X, y, candidates, splits, seeds)
    assert len(asked) == 2  # once per group, not again inside the engine
    assert [g["params"] for g in fits.groups] == [
        {"module__hidden_units": (8,)},
        {"module__hidden_units": (16,)},
    ]
    assert all(g["stacked"] and g["n_fits"] == 6 for g in fits.groups)
    assert sorted(fits.members) == [(c, f) for c in range(4) for f in range(3)]
    for (c, fold), member in fits.members.items():
        alone = set_random_states(clone(net).set_params(**candidates[c]), seeds[fold])
        train, test = splits[fold]
        alone.fit(X[train], y[train])
        np.testing.assert_allclose(
            member.predict_proba(X[test]), alone.predict_proba(X[test]), rtol=1e-4, atol=1e-6
        )


def test_a_candidate_that_cannot_start_is_set_aside_and_the_rest_train(folds, tiny_net_params):
    X, y, splits = folds
    told = []
    fits = fit_candidates(
        NeuralNetClassifier(**tiny_net_params), X, y, [{"lr": 1e-2}, {"lr": -1.0}], splits,
        [0, 1, 2], on_invalid=lambda c, error: told.append((c, isinstance(error, ValueError))),
    )  # fmt: skip
    assert told == [(1, True)] and list(fits.invalid) == [1]
    assert sorted(fits.members) == [(0, 0), (0, 1), (0, 2)]
    # A group none of whose candidates can start is recorded, untrained.
    fits = fit_candidates(
        NeuralNetClassifier(**tiny_net_params), X, y, [{"lr": -1.0}], splits, [0, 1, 2]
    )
    (group,) = fits.groups
    assert not fits.members and group["seconds"] is None and "lr" in group["reason"]


def test_which_folds_and_the_epoch_hook_speak_in_candidate_fold_keys(folds, tiny_net_params):
    X, y, splits = folds
    seen = []

    def on_epoch_end(keys, members):
        seen.extend((len(m.history), key) for key, m in zip(keys, members, strict=True))
        return [key for key in keys if key == (2, 1)]  # stop one member after one epoch

    fits = fit_candidates(
        NeuralNetClassifier(**tiny_net_params), X, y, [{"lr": 1e-3}, {"lr": 1e-2}, {"lr": 3e-2}],
        splits, [0, 1, 2], which=[0, 2], folds=[1, 2], on_epoch_end=on_epoch_end,
    )  # fmt: skip
    assert sorted(key for epoch, key in seen if epoch == 1) == [(0, 1), (0, 2), (2, 1), (2, 2)]
    assert (2, (2, 1)) not in seen and (2, (2, 2)) in seen
    assert sorted(fits.members) == [(0, 1), (0, 2), (2, 1), (2, 2)]
    assert len(fits.members[2, 1].history) == 1 and len(fits.members[2, 2].history) == 5


def test_a_group_that_fails_is_recorded_or_handed_to_on_error(folds, tiny_net_params):
    X, y, splits = folds
    diverging = NeuralNetClassifier(**tiny_net_params, optimizer=torch.optim.SGD)
    fits = fit_candidates(diverging, X * 1e4, y, [{"lr": 1e3}], splits, [0, 1, 2])
    (group,) = fits.groups
    assert not fits.members and not group["stacked"] and group["seconds"] is None
    told = []
    with pytest.raises(FloatingPointError):
        fit_candidates(
            diverging, X * 1e4, y, [{"lr": 1e3}], splits, [0, 1, 2],
            on_error=lambda group, error: told.append(group) or (_ for _ in ()).throw(error),
        )  # fmt: skip
    assert told == [[0]]


def test_an_estimator_without_stacked_training_shares_every_parameter(folds):
    X, y, splits = folds
    tree = DecisionTreeClassifier(random_state=0)
    assert shared_params(tree, {"max_depth": 2, "min_samples_leaf": 3}) == {
        "max_depth": 2,
        "min_samples_leaf": 3,
    }
    fits = fit_candidates(tree, X, y, [{"max_depth": 1}, {"max_depth": 2}], splits, [0, 1, 2])
    assert [g["stacked"] for g in fits.groups] == [False, False]
    assert "no stacked training" in fits.groups[0]["reason"]
    assert fits.members[1, 0].get_depth() <= 2
    with pytest.raises(ValueError, match="engine must be 'auto' or 'vectorized'"):
        fit_candidates(tree, X, y, [{}], splits, [0, 1, 2], engine="joblib")


def test_the_net_says_which_parameters_stacked_members_may_differ_in(binary, tiny_net_params):
    for name, apart in [
        ("lr", True), ("optimizer__weight_decay", True), ("optimizer__param_groups", False),
        ("module__hidden_units", False), ("max_epochs", False), ("batch_size", False),
    ]:  # fmt: skip
        assert NeuralNetClassifier.stacks_apart(name) is apart, name
    X, y = binary
    net = NeuralNetClassifier(**tiny_net_params)
    from ensemblekit.engine import MemberPlan

    plan = MemberPlan(seed=0, rows=np.arange(50))
    assert net.startup_error(X, y, plan) is None
    assert isinstance(net.set_params(lr=-1.0).startup_error(X, y, plan), ValueError)
    assert not hasattr(net, "module_")  # nothing trained, nothing set


# ------------------------------------------------------- how members combine
def test_every_ensemble_declares_how_its_members_combine():
    for name in ensemblekit.ensemble.__all__:
        cls = getattr(ensemblekit.ensemble, name)
        expected = "weighted" if ("Boost" in name) else "mean"
        assert cls.member_combination == expected, name


def test_the_uncertainty_tools_read_any_ensemble_that_says_its_members_vote_alike(binary):
    X, y = binary
    bag = ensemblekit.ensemble.BaggingClassifier(
        DecisionTreeClassifier(max_depth=2), n_estimators=3, random_state=0
    ).fit(X, y)

    class Wrapped(BaseEstimator):  # an ensemble of someone else's, which declares an equal vote
        member_combination = "mean"
        classes_ = bag.classes_

        def fit(self, X, y):
            return self

        def __sklearn_is_fitted__(self):
            return True

        def predict_members(self, X):
            return bag.predict_members(X)

    np.testing.assert_array_equal(member_predictions(Wrapped(), X), bag.predict_members(X))
    booster = ensemblekit.ensemble.AdaBoostClassifier(
        DecisionTreeClassifier(max_depth=1), n_estimators=2, random_state=0
    ).fit(X, y)
    with pytest.raises(TypeError, match="member_combination='mean'"):
        member_predictions(booster, X)


def test_members_give_their_own_spread_when_they_predict_one(tiny_net_params):
    X, y = make_regression(120, 4, noise=5.0, random_state=0)
    X, y = X.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32)
    gaussian = DeepEnsembleRegressor(
        NeuralNetRegressor(**tiny_net_params, criterion=GaussianNLLLoss), n_estimators=3,
        random_state=0,
    ).fit(X, y)  # fmt: skip
    means, stds = gaussian.predict_members(X, return_std=True)
    for member, mean, std in zip(gaussian.estimators_, means, stds, strict=True):
        own_mean, own_std = member.predict(X, return_std=True)
        np.testing.assert_array_equal(mean, own_mean)
        np.testing.assert_array_equal(std, own_std)
    u = predictive_uncertainty(gaussian, X)
    np.testing.assert_allclose(u.aleatoric, (stds**2).mean(axis=0))
    trees = BaggingRegressor(DecisionTreeRegressor(max_depth=2), n_estimators=3, random_state=0)
    means, stds = trees.fit(X, y).predict_members(X, return_std=True)
    assert stds is None and means.shape == (3, len(X))


def test_combined_members_are_those_predict_combines(binary, tiny_net_params):
    X, y = binary
    snap = SnapshotEnsembleClassifier(
        NeuralNetClassifier(**tiny_net_params), n_estimators=3, n_average=2, random_state=0
    ).fit(X, y)
    assert snap.combined_members_ == [1, 2]
    np.testing.assert_allclose(snap.predict_proba(X), snap.predict_members(X).mean(axis=0))


# ---------------------------------------- a search's parameters are never written
def _watched(search_class):
    """The search class, recording every write to one of its parameters."""
    names = set(search_class._get_param_names())

    class Watched(search_class):
        writes: ClassVar[list] = []

        def __setattr__(self, name, value):
            if name in names and vars(self).get("_fitting") == id(self):  # not a copy's
                type(self).writes.append(name)
            object.__setattr__(self, name, value)

        def fit(self, *args, **kwargs):
            object.__setattr__(self, "_fitting", id(self))
            try:
                return super().fit(*args, **kwargs)
            finally:
                vars(self).pop("_fitting")

    Watched.__name__ = search_class.__name__
    return Watched


@pytest.mark.parametrize(
    ("search", "space", "kwargs"),
    [
        (StackedGridSearchCV, {"lr": [1e-2, 3e-2]}, {"scoring": "neg_multiclass_brier_score"}),
        (StackedRandomizedSearchCV, {"lr": loguniform(1e-3, 1e-1)},
         {"n_iter": 2, "scoring": ["accuracy", "neg_expected_calibration_error"],
          "refit": "accuracy"}),
        (StackedHalvingGridSearchCV, {"lr": [1e-3, 1e-2, 3e-2]},
         {"resource": "max_epochs", "min_resources": 2, "scoring": "neg_multiclass_brier_score"}),
        (StackedHalvingRandomSearchCV, {"lr": loguniform(1e-3, 1e-1)},
         {"n_candidates": 3, "resource": "max_epochs", "min_resources": 2}),
    ],
)  # fmt: skip
def test_no_search_writes_its_own_parameters_during_fit(
    search, space, kwargs, binary, tiny_net_params
):
    X, y = binary
    watched = _watched(search)
    instance = watched(
        NeuralNetClassifier(**tiny_net_params), space, cv=2, random_state=0, **kwargs
    )
    given = instance.get_params(deep=False)
    instance.fit(X, y)
    assert watched.writes == []
    assert instance.get_params(deep=False) == given
    planted = _watched(StackedGridSearchCV)(NeuralNetClassifier(**tiny_net_params), {"lr": [0.1]})
    object.__setattr__(planted, "_fitting", id(planted))
    planted.scoring = "accuracy"  # the watch sees a write
    assert type(planted).writes == ["scoring"]


def test_the_optuna_search_writes_none_of_its_parameters(binary, tiny_net_params):
    optuna = pytest.importorskip("optuna")
    from ensemblekit.model_selection import StackedOptunaSearchCV

    X, y = binary
    watched = _watched(StackedOptunaSearchCV)
    space = {"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}
    search = watched(
        NeuralNetClassifier(**tiny_net_params), space, n_trials=2, cv=2, random_state=0,
        scoring="neg_multiclass_brier_score",
    )  # fmt: skip
    search.fit(X, y)
    assert watched.writes == []
