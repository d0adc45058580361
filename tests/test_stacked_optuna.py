"""Optuna trials asked in batches, trained stacked, reported each epoch and pruned."""

import pytest
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ensemblekit.model_selection import StackedOptunaSearchCV, _stacked_optuna
from ensemblekit.nets import NeuralNetClassifier

optuna = pytest.importorskip("optuna")

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NET = {"module__hidden_units": (16,), "batch_size": 64, "max_epochs": 8, "random_state": 0}
SPACE = {"lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)}
CV = StratifiedKFold(3, shuffle=True, random_state=0)


@pytest.fixture(autouse=True)
def quiet_optuna():
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    yield
    optuna.logging.set_verbosity(level)


def _study(**pruner):
    return optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.MedianPruner(**pruner),
    )


def test_batches_are_trained_stacked_and_told_their_cv_score(digits, monkeypatch):
    X, y = digits
    calls = []
    fit_members = _stacked_optuna.fit_members
    monkeypatch.setattr(
        _stacked_optuna,
        "fit_members",
        lambda *a, **k: calls.append(len(a[3])) or fit_members(*a, **k),
    )
    told = []
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**NET), SPACE, n_trials=6, batch_size=4, cv=CV,
        study=_study(n_startup_trials=100), scoring="neg_log_loss",
        callbacks=[lambda study, trial: told.append(trial.number)],
    ).fit(X, y)  # fmt: skip
    assert calls == [4 * 3, 2 * 3]  # two batches, trials x folds each
    assert told == list(range(6)) and len(search.study_.trials) == 6
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in search.trials_)
    # Each trial's value is its CV score, as cross_val_score of its net gives it.
    for trial in search.trials_[:2]:
        net = clone(NeuralNetClassifier(**NET)).set_params(**trial.params)
        expected = cross_val_score(net, X, y, cv=CV, scoring="neg_log_loss").mean()
        assert trial.value == pytest.approx(expected, abs=1e-4)
        assert len(trial.intermediate_values) == NET["max_epochs"]  # one report an epoch
    best = max(search.trials_, key=lambda t: t.value)
    assert search.best_params_ == best.params and search.best_score_ == pytest.approx(best.value)
    assert search.best_estimator_.lr == best.params["lr"]
    assert set(search.cv_results_["state"]) == {"COMPLETE"}
    assert search.cv_results_["rank_test_score"][search.best_index_] == 1


def test_pruned_trials_leave_the_stack_and_are_told_pruned(digits):
    X, y = digits
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**NET), SPACE, n_trials=12, batch_size=4, cv=CV,
        study=_study(n_startup_trials=3, n_warmup_steps=1), random_state=0,
    ).fit(X, y)  # fmt: skip
    states = search.cv_results_["state"]
    pruned = states == "PRUNED"
    assert pruned.any() and (~pruned).any()
    assert (search.cv_results_["n_epochs"][pruned] < NET["max_epochs"]).all()
    assert (search.cv_results_["n_epochs"][~pruned] == NET["max_epochs"]).all()
    for trial, state in zip(search.trials_, states, strict=True):
        assert trial.state.name == state
    assert (search.cv_results_["rank_test_score"][pruned] > (~pruned).sum()).all()


def test_bad_settings_are_refused_before_any_training(digits):
    X, y = digits
    net = NeuralNetClassifier(**NET)
    with pytest.raises(ValueError, match="param_distributions must map parameter names"):
        StackedOptunaSearchCV(net, {"lr": [1e-3, 1e-2]}).fit(X, y)
    with pytest.raises(ValueError, match="study must maximize"):
        StackedOptunaSearchCV(net, SPACE, study=optuna.create_study()).fit(X, y)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        StackedOptunaSearchCV(net, SPACE, batch_size=0).fit(X, y)
    with pytest.raises(ValueError, match="estimator must be an ensemblekit"):
        StackedOptunaSearchCV(object(), SPACE).fit(X, y)
