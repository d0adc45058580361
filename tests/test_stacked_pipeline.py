"""A stacked search on the Pipeline a user writes (scaling, then a net): the steps before
the net fit once per fold, the nets train stacked over candidates x folds, and the results
are GridSearchCV's on the same Pipeline."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from ensemblekit.model_selection import (
    NotStackedWarning,
    StackedGridSearchCV,
    StackedHalvingGridSearchCV,
)
from ensemblekit.nets import NeuralNetClassifier, _prefit

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture
def adopted(monkeypatch):
    """Whether each fit of a net in the search loop took a member trained beforehand."""
    seen, adopt = [], _prefit.Prefitted._adopt
    monkeypatch.setattr(_prefit.Prefitted, "_adopt", lambda *a: seen.append(adopt(*a)) or seen[-1])
    return seen


def _same_results(ours, theirs, X):
    for key in ("params", "rank_test_score"):
        assert repr(ours.cv_results_[key]) == repr(theirs.cv_results_[key])
    for key in ("mean_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_allclose(ours.cv_results_[key], theirs.cv_results_[key], atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-5)


def test_a_pipeline_search_stacks_and_gives_grid_search_cv_results(
    digits, tiny_net_params, adopted
):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(**tiny_net_params, random_state=0))
    grid = {
        "standardscaler": [StandardScaler(), MinMaxScaler()],
        "neuralnetclassifier__lr": [1e-3, 1e-2],
        "neuralnetclassifier__module__hidden_units": [(8,), (16,)],
    }
    ours = StackedGridSearchCV(pipe, grid, cv=2, random_state=0).fit(X, y)
    theirs = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    _same_results(ours, theirs, X)
    # Per scaler and width, the lr candidates x folds trained as one stack.
    assert [(g["n_fits"], g["stacked"]) for g in ours.stacked_groups_] == [(4, True)] * 4
    assert set(ours.stacked_groups_[0]["params"]) == {
        "standardscaler",
        "neuralnetclassifier__module__hidden_units",
    }
    assert adopted.count(True) == 16 and adopted.count(False) == 1  # the refit trains
    assert (ours.cv_results_["std_fit_time"] == 0).all()  # each member's share of its stack


def test_a_pipeline_halving_search_stacks_each_round(digits, tiny_net_params, adopted):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(**tiny_net_params, random_state=0))
    grid = {"neuralnetclassifier__lr": [1e-3, 3e-3, 1e-2, 3e-2]}
    with pytest.raises(ValueError, match="resource='neuralnetclassifier__max_epochs'"):
        StackedHalvingGridSearchCV(pipe, grid, cv=2).fit(X, y)
    kwargs = {"cv": 2, "factor": 2, "min_resources": 100, "random_state": 0}
    kwargs["resource"] = "n_samples"
    ours = StackedHalvingGridSearchCV(pipe, grid, **kwargs).fit(X, y)
    theirs = HalvingGridSearchCV(pipe, grid, **kwargs).fit(X, y)
    _same_results(ours, theirs, X)
    assert all(g["stacked"] for g in ours.stacked_groups_) and len(ours.stacked_groups_) == 3
    assert adopted.count(False) == 1


def test_steps_that_give_sparse_rows_or_replace_the_net_are_fitted_by_the_loop(binary):
    X, y = binary
    X = np.round(X).clip(-2, 2)  # a few categories per column
    net = NeuralNetClassifier(max_epochs=2, random_state=0)
    pipe = make_pipeline(OneHotEncoder(handle_unknown="ignore"), net)
    grid = [
        {"neuralnetclassifier__lr": [1e-2, 3e-2]},
        {"neuralnetclassifier": [NeuralNetClassifier(max_epochs=1, random_state=0)]},
    ]
    with pytest.warns(NotStackedWarning, match="2 group.*sparse rows"):
        ours = StackedGridSearchCV(pipe, grid, cv=2, random_state=0, verbose=1).fit(X, y)
    theirs = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    _same_results(ours, theirs, X)
    assert ours.stacked_groups_ == []


def test_a_pipeline_halving_search_over_the_nets_epochs(digits, tiny_net_params, adopted):
    X, y = digits
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(**tiny_net_params, random_state=0))
    grid = {"neuralnetclassifier__lr": [1e-3, 3e-3, 1e-2, 3e-2]}
    kwargs = {"cv": 2, "factor": 2, "min_resources": 1, "random_state": 0}
    kwargs["resource"] = "neuralnetclassifier__max_epochs"
    ours = StackedHalvingGridSearchCV(pipe, grid, **kwargs).fit(X, y)
    theirs = HalvingGridSearchCV(pipe, grid, max_resources=5, **kwargs).fit(X, y)
    _same_results(ours, theirs, X)
    assert all(g["stacked"] for g in ours.stacked_groups_)
    assert adopted.count(False) == 1


def test_an_optuna_search_on_a_pipeline_scores_each_trial_as_the_pipeline_would(digits):
    optuna = pytest.importorskip("optuna")
    from sklearn.model_selection import KFold, cross_val_score

    from ensemblekit.model_selection import StackedOptunaSearchCV

    X, y = digits
    net = NeuralNetClassifier(module__hidden_units=(16,), max_epochs=3, random_state=0)
    pipe = make_pipeline(StandardScaler(), net)
    D = optuna.distributions
    space = {
        "neuralnetclassifier__lr": D.FloatDistribution(1e-3, 1e-1, log=True),
        "standardscaler__with_mean": D.CategoricalDistribution([True, False]),
    }
    cv = KFold(2, shuffle=True, random_state=0)
    sampler = optuna.samplers.RandomSampler(seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    search = StackedOptunaSearchCV(pipe, space, n_trials=4, batch_size=4, cv=cv, study=study)
    search.fit(X, y)
    for trial in search.trials_:
        expected = cross_val_score(clone(pipe).set_params(**trial.params), X, y, cv=cv)
        assert trial.value == pytest.approx(expected.mean(), abs=1e-6)
    assert (
        search.best_estimator_.steps[0][1].with_mean
        == search.best_params_["standardscaler__with_mean"]
    )
    assert search.predict(X).shape == (len(X),)
