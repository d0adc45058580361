"""Optuna trials asked in batches, trained stacked, reported each epoch and pruned."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score

from ensemblekit.engine import _candidates
from ensemblekit.model_selection import StackedOptunaSearchCV
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
    run_plans = _candidates.run_plans  # the engine's call per group of trials
    monkeypatch.setattr(
        _candidates,
        "run_plans",
        lambda *a, **k: calls.append(len(a[3])) or run_plans(*a, **k),
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


# ------------------------------------------------------------------ trials that fail

# One trial of each batch of four is broken: an invalid setting, or a fit whose loss
# becomes NaN. The others must train and be told their scores as usual.
BROKEN = {
    "invalid lr": {"lr": optuna.distributions.CategoricalDistribution([-1.0, 0.01, 0.02, 0.05])},
    "no epochs": {"max_epochs": optuna.distributions.CategoricalDistribution([0, 2, 3, 4])},
    "dropout above 1": {
        "module__dropout": optuna.distributions.CategoricalDistribution([1.5, 0.0, 0.1, 0.2])
    },
    "diverging": {"lr": optuna.distributions.CategoricalDistribution([1e30, 0.01, 0.02, 0.05])},
}


def _sqlite_study(tmp_path, space=SPACE):
    """A study in SQLite, which another process could read; a grid of a categorical space."""
    grid = {k: list(d.choices) for k, d in space.items() if hasattr(d, "choices")}
    return optuna.create_study(
        direction="maximize",
        storage=f"sqlite:///{tmp_path / 'study.db'}",
        sampler=optuna.samplers.GridSampler(grid, seed=0) if grid else None,
        pruner=optuna.pruners.NopPruner(),
    )


def _states(study) -> list[str]:
    """The trials' states as the storage holds them (what another process would see)."""
    again = optuna.load_study(study_name=study.study_name, storage=study._storage)
    return [t.state.name for t in again.get_trials(deepcopy=False)]


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_trial_fails_alone_and_the_search_goes_on(case, digits, tmp_path):
    X, y = digits
    study = _sqlite_study(tmp_path, BROKEN[case])
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**{**NET, "max_epochs": 3}), BROKEN[case], n_trials=4,
        batch_size=4, cv=CV, study=study, random_state=0,
    )  # fmt: skip
    with pytest.warns(
        FitFailedWarning, match=r"1 of 4 trials failed.*\nTrial \d+ \(.*\) failed"
    ) as caught:
        search.fit(X, y)
    caught = [w for w in caught if w.category is FitFailedWarning]
    assert len(caught) == 1
    states = list(search.cv_results_["state"])
    assert sorted(states) == ["COMPLETE"] * 3 + ["FAIL"]
    assert sorted(_states(study)) == sorted(states)  # none left RUNNING
    failed = states.index("FAIL")
    assert np.isnan(search.cv_results_["mean_test_score"][failed])
    assert search.cv_results_["rank_test_score"][failed] == 4
    assert "weights loaded from elsewhere" not in str(caught[0].message)
    bad = next(iter(BROKEN[case].values())).choices[0]
    assert repr(bad) in str(caught[0].message)  # the trial's parameters, named
    # The trials that did not fail score as they would in a search without the broken one.
    assert np.isfinite(search.best_score_) and search.best_params_ != {
        name: bad for name in BROKEN[case]
    }


def test_error_score_raise_names_the_trial_and_leaves_none_running(digits, tmp_path):
    X, y = digits
    study = _sqlite_study(tmp_path, BROKEN["diverging"])
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**{**NET, "max_epochs": 2}), BROKEN["diverging"], n_trials=4,
        batch_size=4, cv=CV, study=study, error_score="raise",
    )  # fmt: skip
    with pytest.raises(FloatingPointError) as error:
        search.fit(X, y)
    assert any("Trial " in note and "lr=1e+30" in note for note in error.value.__notes__)
    assert _states(study) and "RUNNING" not in _states(study)


def test_ctrl_c_leaves_no_trial_running(digits, tmp_path):
    X, y = digits
    study = _sqlite_study(tmp_path)
    calls = []

    def interrupted(net, X, y):  # Ctrl-C in the third score of the second epoch
        calls.append(1)
        if len(calls) == 3 * 4 + 3:
            raise KeyboardInterrupt
        return net.score(X, y)

    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**{**NET, "max_epochs": 3}), SPACE, n_trials=8, batch_size=4,
        cv=CV, study=study, scoring=interrupted,
    )  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        search.fit(X, y)
    assert _states(study) == ["FAIL"] * 4


@pytest.mark.parametrize("timeout", [0, -1, float("nan"), float("inf"), "10", True])
def test_timeout_must_be_a_positive_number_of_seconds(timeout, digits):
    X, y = digits
    with pytest.raises(ValueError, match="timeout must be None or a positive number"):
        StackedOptunaSearchCV(NeuralNetClassifier(**NET), SPACE, timeout=timeout).fit(X, y)
    with pytest.raises(ValueError, match="error_score must be 'raise' or a number"):
        StackedOptunaSearchCV(NeuralNetClassifier(**NET), SPACE, error_score="nan").fit(X, y)


def test_every_trial_failing_alike_raises_the_error_itself(digits, tmp_path):
    """One class in y fails every trial the same way: the data's error, not a search's."""
    X, y = digits
    study = _sqlite_study(tmp_path)
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**NET), SPACE, n_trials=4, batch_size=2, cv=2, study=study
    )
    with pytest.raises(ValueError, match="needs at least 2 classes") as error:
        search.fit(X, np.zeros_like(y))
    assert any("Every one of the 4 trials failed" in note for note in error.value.__notes__)
    assert _states(study) == ["FAIL"] * 4
    assert not hasattr(search, "cv_results_") and not hasattr(search, "study_")  # unfitted


def test_what_optuna_search_cv_users_rely_on_is_there(digits):
    X, y = digits
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**NET), SPACE, n_trials=3, batch_size=3, cv=CV, random_state=0
    ).fit(X, y)
    assert search.best_trial_ is search.trials_[search.best_index_]
    assert search.best_trial_.params == search.best_params_
    frame = search.trials_dataframe()
    assert len(frame) == 3 and "value" in frame.columns
    assert frame["value"].max() == pytest.approx(search.best_score_)


def test_widths_and_depths_search_as_integers_without_a_warning(digits):
    D = optuna.distributions
    space = {
        "module__hidden_units": D.IntDistribution(8, 32, log=True),
        "module__depth": D.IntDistribution(1, 2),
    }
    X, y = digits  # warnings are errors here: Optuna's about tuples would fail the test
    search = StackedOptunaSearchCV(
        NeuralNetClassifier(**NET), space, n_trials=3, batch_size=3, cv=CV, random_state=0
    ).fit(X, y)
    best, layers = search.best_params_, search.best_estimator_.module_.layers
    widths = [m.out_features for m in layers if isinstance(m, torch.nn.Linear)][:-1]
    assert widths == [best["module__hidden_units"]] * best["module__depth"]
