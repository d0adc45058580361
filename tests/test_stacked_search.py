"""Stacked searches: the same answers as scikit-learn's searches, faster, and the
coarse-to-fine helper."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from joblib import parallel_config
from scipy.stats import loguniform
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.diagnostics import GradientMonitor
from ensemblekit.model_selection import (
    NotStackedWarning,
    SearchBorderWarning,
    StackedGridSearchCV,
    StackedRandomizedSearchCV,
    refine_distributions,
)
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"lr": [1e-3, 1e-2], "optimizer__weight_decay": [0.0, 1e-3]}
CV = StratifiedKFold(3, shuffle=True, random_state=0)


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _net(**params):
    return NeuralNetClassifier(max_epochs=5, batch_size=32, random_state=0, **params)


def _assert_same_results(ours, theirs, atol=1e-6):
    """cv_results_ with the same keys and values (to float rounding), the same best."""
    assert sorted(ours.cv_results_) == sorted(theirs.cv_results_)
    for key, value in theirs.cv_results_.items():
        if "time" in key:
            continue
        if key == "params" or key.startswith("param_") or key.startswith("rank_"):
            assert list(ours.cv_results_[key]) == list(value), key
        else:
            np.testing.assert_allclose(ours.cv_results_[key], value, atol=atol, err_msg=key)
    assert ours.best_params_ == theirs.best_params_
    assert ours.best_index_ == theirs.best_index_


def test_the_same_answers_as_grid_search_cv_with_several_scorers(iris):
    X, y = iris
    settings = {
        "cv": CV, "scoring": ["accuracy", "neg_log_loss"], "refit": "neg_log_loss",
        "return_train_score": True,
    }  # fmt: skip
    ours = StackedGridSearchCV(_net(), GRID, **settings).fit(X, y)
    theirs = GridSearchCV(_net(), GRID, **settings).fit(X, y)
    _assert_same_results(ours, theirs)
    assert ours.stacked_groups_ == [
        {"params": {}, "n_fits": 12, "stacked": True, "reason": None,
         "seconds": ours.stacked_groups_[0]["seconds"]},
    ]  # fmt: skip
    np.testing.assert_array_equal(
        ours.best_estimator_.predict_proba(X), theirs.best_estimator_.predict_proba(X)
    )
    # Fit times are each member's share of the stacked training time.
    share = ours.stacked_groups_[0]["seconds"] / 12
    np.testing.assert_allclose(ours.cv_results_["mean_fit_time"], share)


def test_the_same_answers_as_randomized_search_cv(iris):
    X, y = iris
    space = {"lr": loguniform(1e-4, 1e-1), "optimizer__weight_decay": [0.0, 1e-3]}
    ours = StackedRandomizedSearchCV(_net(), space, n_iter=5, cv=CV, random_state=0).fit(X, y)
    theirs = RandomizedSearchCV(_net(), space, n_iter=5, cv=CV, random_state=0).fit(X, y)
    _assert_same_results(ours, theirs)


def test_architectures_are_grouped_and_each_group_stacked(iris, capsys):
    X, y = iris
    grid = {"module__hidden_units": [(8,), (16, 8)], "lr": [1e-3, 1e-2]}
    ours = StackedGridSearchCV(_net(), grid, cv=CV, verbose=1).fit(X, y)
    theirs = GridSearchCV(_net(), grid, cv=CV).fit(X, y)
    _assert_same_results(ours, theirs)
    assert [g["params"] for g in ours.stacked_groups_] == [
        {"module__hidden_units": (8,)}, {"module__hidden_units": (16, 8)},
    ]  # fmt: skip
    assert all(g["stacked"] and g["n_fits"] == 6 for g in ours.stacked_groups_)
    printed = capsys.readouterr().out
    assert "module__hidden_units=(16, 8): 2 candidates x 3 folds trained stacked" in printed


def test_what_cannot_stack_falls_back_and_says_why(iris, capsys):
    X, y = iris
    # A callback acting on every batch: the group trains one fit at a time.
    monitored = _net(callbacks=[GradientMonitor()])
    with pytest.warns(NotStackedWarning, match="1 group.* the first because the callback"):
        ours = StackedGridSearchCV(monitored, GRID, cv=CV, verbose=1).fit(X, y)
    _assert_same_results(ours, GridSearchCV(clone(monitored), GRID, cv=CV).fit(X, y))
    assert ours.stacked_groups_[0]["stacked"] is False
    assert "acts on every batch" in ours.stacked_groups_[0]["reason"]
    assert "trained one by one (the callback 'GradientMonitor'" in capsys.readouterr().out

    # A Pipeline that does not end in a net, or fit parameters: scikit-learn's search.
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    ours = StackedGridSearchCV(pipeline, {"logisticregression__C": [0.1, 1.0]}, cv=CV, verbose=1)
    with pytest.warns(NotStackedWarning, match="because the estimator is a Pipeline"):
        ours.fit(X, y)
    message = "every fit on its own: the estimator is a Pipeline, neither an ensemblekit net"
    assert message in capsys.readouterr().out
    weights = np.linspace(0.5, 2.0, len(y))
    with pytest.warns(NotStackedWarning, match="fit parameters are given"):
        ours = StackedGridSearchCV(_net(), GRID, cv=CV).fit(X, y, sample_weight=weights)
    theirs = GridSearchCV(_net(), GRID, cv=CV).fit(X, y, sample_weight=weights)
    _assert_same_results(ours, theirs)
    assert ours.stacked_groups_ == []


@pytest.mark.filterwarnings("ignore:One or more of the test scores are non-finite")
def test_a_failing_group_leaves_error_score_to_the_search_loop(iris):
    X, y = iris
    net = _net(optimizer=torch.optim.SGD)
    grid = {"lr": [1e-2, 1e12]}  # the second diverges
    with pytest.warns(FitFailedWarning):
        ours = StackedGridSearchCV(net, grid, cv=CV).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FitFailedWarning)
        theirs = GridSearchCV(net, grid, cv=CV).fit(X, y)
    assert np.isnan(ours.cv_results_["mean_test_score"][1])
    _assert_same_results(ours, theirs)
    assert ours.stacked_groups_[0]["stacked"] is False


@pytest.mark.parametrize(
    ("name", "valid", "invalid"),
    [
        ("lr", 1e-2, -1.0),
        ("max_epochs", 5, 0),
        ("module__dropout", 0.0, 1.5),
        ("optimizer__weight_decay", 0.0, -1.0),
    ],
)
def test_an_invalid_candidate_scores_error_score_and_leaves_the_others_alone(
    iris, name, valid, invalid
):  # fmt: skip
    X, y = iris
    grid = (
        {"lr": [1e-3, 1e-2], name: [valid, invalid]} if name != "lr" else {"lr": [valid, invalid]}
    )
    sound = {**grid, name: [valid]}
    alone = StackedGridSearchCV(_net(), sound, cv=CV).fit(X, y)
    with pytest.warns(FitFailedWarning):
        ours = StackedGridSearchCV(_net(), grid, cv=CV, error_score=-7.0).fit(X, y)
    bad = [params[name] == invalid for params in ours.cv_results_["params"]]
    assert np.all(ours.cv_results_["mean_test_score"][bad] == -7.0)
    # The sound candidates: the same fits as in the search without the invalid ones.
    good = np.flatnonzero(np.logical_not(bad))
    for key in ("mean_test_score", "std_test_score", "split0_test_score"):
        np.testing.assert_array_equal(ours.cv_results_[key][good], alone.cv_results_[key])
    assert ours.best_params_ == alone.best_params_
    with pytest.raises((ValueError, TypeError)):
        StackedGridSearchCV(_net(), grid, cv=CV, error_score="raise").fit(X, y)


def test_a_randomized_search_scores_an_invalid_draw_error_score(iris):
    X, y = iris
    search = StackedRandomizedSearchCV(
        _net(), {"lr": [1e-2, -1.0]}, n_iter=2, cv=CV, random_state=0, error_score=0.0
    )
    with pytest.warns(FitFailedWarning):
        search.fit(X, y)
    scores = dict(zip([p["lr"] for p in search.cv_results_["params"]],
                      search.cv_results_["mean_test_score"], strict=True))  # fmt: skip
    assert scores[-1.0] == 0.0 and scores[1e-2] > 0.5


def test_reproducible_for_any_n_jobs_and_seeded_by_random_state(iris):
    X, y = iris
    unseeded = NeuralNetClassifier(max_epochs=5, batch_size=32)
    settings = {"cv": CV, "scoring": "neg_log_loss"}
    runs = [
        StackedGridSearchCV(unseeded, GRID, random_state=0, n_jobs=n_jobs, **settings).fit(X, y)
        for n_jobs in (1, 2, 1)
    ]
    with parallel_config(backend="threading", n_jobs=2):
        runs.append(StackedGridSearchCV(unseeded, GRID, random_state=0, **settings).fit(X, y))
    for other in runs[1:]:
        assert runs[0].cv_results_["split0_test_score"].tolist() == (
            other.cv_results_["split0_test_score"].tolist()
        )
    reseeded = StackedGridSearchCV(unseeded, GRID, random_state=1, **settings).fit(X, y)
    assert not np.array_equal(
        reseeded.cv_results_["split0_test_score"], runs[0].cv_results_["split0_test_score"]
    )


def test_clone_pickle_and_params(iris):
    X, y = iris
    search = StackedGridSearchCV(_net(), GRID, cv=CV, random_state=3)
    assert clone(search).get_params()["random_state"] == 3
    assert search.get_params()["estimator__lr"] == search.estimator.lr
    fitted = pickle.loads(pickle.dumps(search.fit(X, y)))
    np.testing.assert_array_equal(fitted.predict(X), search.predict(X))
    assert search.cv is CV and search.random_state == 3  # left as they were given


def test_refine_distributions_narrows_around_the_best_and_checks_the_border(iris):
    X, y = iris
    space = {"lr": loguniform(1e-5, 1e-1), "optimizer__weight_decay": [0.0, 1e-3]}
    search = StackedRandomizedSearchCV(_net(), space, n_iter=6, cv=CV, random_state=0)
    search.fit(X, y)
    best = search.best_params_["lr"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SearchBorderWarning)
        try:
            refined = refine_distributions(search, shrink=4.0)
        except SearchBorderWarning:
            refined = None
    if refined is None:  # the best is on the border: the warning says so, and it refines
        with pytest.warns(SearchBorderWarning):
            refined = refine_distributions(search, shrink=4.0)
    low, high = refined["lr"].support()
    np.testing.assert_allclose([np.log10(low), np.log10(high)],
                               [np.log10(best) - 0.5, np.log10(best) + 0.5])  # fmt: skip
    low, high = refined["optimizer__weight_decay"].support()  # searched >= 0, kept >= 0
    assert low >= 0 and high > low


def test_refine_past_the_border_and_bad_arguments():
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    grid = {"C": [1e-4, 1e-3, 1e-2], "max_iter": [500]}
    search = GridSearchCV(LogisticRegression(), grid).fit(X, y)
    with pytest.warns(SearchBorderWarning, match="high edge"):
        refined = refine_distributions(search, shrink=2.0)
    low, high = refined["C"].support()
    assert np.isclose(low, 1e-2 / 10**0.5) and np.isclose(high, 1e-2 * 10**0.5)  # past 1e-2
    with pytest.raises(ValueError, match="shrink must be above 1"):
        refine_distributions(search, shrink=1.0)
    listed = GridSearchCV(LogisticRegression(max_iter=500), [{"C": [1.0]}, {"C": [2.0]}]).fit(X, y)
    with pytest.raises(ValueError, match="one dict of parameters"):
        refine_distributions(listed)


def test_the_search_loop_trains_nothing_but_the_refit(iris, monkeypatch):
    from ensemblekit.nets._base import NeuralNetBase

    X, y = iris
    trained = []
    original = NeuralNetBase._train
    monkeypatch.setattr(
        NeuralNetBase, "_train", lambda net, data: trained.append(1) or original(net, data)
    )
    StackedGridSearchCV(_net(), GRID, cv=CV).fit(X, y)
    assert len(trained) == 1  # the 12 fits of the loop adopted their stacked members
    trained.clear()
    GridSearchCV(_net(), GRID, cv=CV).fit(X, y)
    assert len(trained) == 13


def test_group_splitters_take_their_groups(iris):
    from sklearn.model_selection import GroupKFold

    X, y = iris
    groups = np.arange(len(y)) % 5
    ours = StackedGridSearchCV(_net(), GRID, cv=GroupKFold(3)).fit(X, y, groups=groups)
    theirs = GridSearchCV(_net(), GRID, cv=GroupKFold(3)).fit(X, y, groups=groups)
    _assert_same_results(ours, theirs)
    assert ours.stacked_groups_[0]["stacked"]


def test_the_search_changes_nothing_it_was_given_and_its_loop_gets_the_same_splits(
    iris, monkeypatch
):
    """scikit-learn's fit runs the search; the folds the stacked members trained on are
    the ones its loop scores on, even from a splitter that shuffles anew at every call."""
    from sklearn.model_selection import KFold

    from ensemblekit.nets._base import NeuralNetBase

    X, y = iris
    net, cv = NeuralNetClassifier(max_epochs=3, batch_size=32), KFold(3, shuffle=True)
    before = net.get_params(deep=False)
    trained = []
    original = NeuralNetBase._train
    monkeypatch.setattr(
        NeuralNetBase, "_train", lambda net, data: trained.append(1) or original(net, data)
    )
    search = StackedGridSearchCV(net, GRID, cv=cv, random_state=0).fit(X, y)
    assert len(trained) == 1  # the refit: the 12 fits of the loop adopted their members
    assert search.estimator is net and net.get_params(deep=False) == before
    assert search.cv is cv and search.random_state == 0
    assert search.best_estimator_.random_state is not None  # the refit was seeded


@pytest.mark.parametrize("search", [StackedGridSearchCV, StackedRandomizedSearchCV])
def test_a_generator_of_splits_is_taken_as_grid_search_cv_takes_it(search, iris):
    X, y = iris
    folds = KFold(3, shuffle=True, random_state=0)
    space = {"lr": [1e-2, 3e-2]}
    extra = {"n_iter": 2, "random_state": 0} if search is StackedRandomizedSearchCV else {}
    ours = search(_net(), space, cv=folds.split(X, y), **extra).fit(X, y)
    peer = RandomizedSearchCV if extra else GridSearchCV
    theirs = peer(_net(), space, cv=folds.split(X, y), **extra).fit(X, y)
    _assert_same_results(ours, theirs)
    assert ours.n_splits_ == 3 and ours.stacked_groups_[0]["stacked"]
    assert not isinstance(ours.cv, list)  # the parameter stays as given
