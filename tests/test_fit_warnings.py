"""A net says when its fit went wrong: a loss that exploded but stayed finite
(DivergenceWarning), or one still falling when max_epochs ran out (ConvergenceWarning, as
scikit-learn's MLP gives). An ensemble or a booster gives one such warning per fit, not
one per member."""

import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    CVEnsembleClassifier,
    DeepEnsembleClassifier,
)
from ensemblekit.model_selection import StackedGridSearchCV, compare_models
from ensemblekit.nets import DivergenceWarning, NeuralNetClassifier, NeuralNetRegressor
from ensemblekit.nets._base import _copies
from ensemblekit.nets._watch import still_improving


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def _caught(fit):
    """The categories and messages of the warnings ``fit()`` gives."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return [(w.category, str(w.message)) for w in caught]


@pytest.mark.parametrize(
    "params",
    [{"lr": 10}, {"lr": 1e3, "optimizer": torch.optim.Adam}],
    ids=["sgd-lr10", "adam-lr1e3"],
)
def test_a_loss_that_explodes_but_stays_finite_warns(iris, params):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=5, random_state=0, **params)
    caught = _caught(lambda: net.fit(X, y))
    assert [c for c, _ in caught] == [DivergenceWarning]
    message = caught[0][1]
    assert "chance loss" in message and f"lr (now {params['lr']:g})" in message
    assert "on_divergence='raise'" in message


def test_on_divergence_raise_stops_the_fit_and_leaves_the_net_unfitted(iris):
    X, y = iris
    net = NeuralNetClassifier(lr=10, max_epochs=5, random_state=0, on_divergence="raise")
    with pytest.raises(FloatingPointError, match=r"epoch 1.*Lower lr \(now 10\)"):
        net.fit(X, y)
    assert not net.__sklearn_is_fitted__()


def test_a_regressor_watches_mse_against_the_mean_of_y_squared():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X @ rng.normal(size=4)).astype(np.float32)
    net = NeuralNetRegressor(lr=5.0, max_epochs=5, random_state=0)
    caught = _caught(lambda: net.fit(X, y))
    assert DivergenceWarning in [c for c, _ in caught]
    calm = NeuralNetRegressor(lr=1e-2, max_epochs=5, random_state=0, tol=10.0, n_iter_no_change=2)
    assert _caught(lambda: calm.fit(X, y)) == []


def test_a_net_with_a_sound_lr_does_not_warn_of_divergence(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=20, random_state=0)
    assert DivergenceWarning not in [c for c, _ in _caught(lambda: net.fit(X, y))]


@pytest.mark.parametrize(
    ("losses", "tol", "patience", "improving"),
    [
        ([1.0, 0.9, 0.8, 0.7], 1e-4, 3, True),  # falls every epoch
        ([1.0, 0.5, 0.5, 0.5, 0.5], 1e-4, 3, False),  # flat for 3 epochs
        ([1.0, 0.5, 0.5, 0.5, 0.4], 1e-4, 3, True),  # fell again in the last 3
        ([1.0, 0.5, 0.499, 0.498, 0.497], 0.01, 3, False),  # falls less than 1 % of best
        ([1.0, 0.5, 0.499, 0.498, 0.497], 1e-4, 3, True),  # ...but more than 0.01 %
        ([1.0, 0.5, 0.6, 0.7, 0.8], 1e-4, 3, False),  # rises
        ([1.0, 0.9], 1e-4, 3, True),  # too few epochs to judge: still improving
    ],
)
def test_still_improving_follows_the_mlp_rule_with_a_relative_tol(
    losses, tol, patience, improving
):  # fmt: skip
    assert still_improving(np.array(losses), tol, patience) is improving


def test_a_net_that_runs_out_of_epochs_while_improving_warns(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=30, random_state=0)
    caught = _caught(lambda: net.fit(X, y))
    assert [c for c, _ in caught] == [ConvergenceWarning]
    assert "max_epochs=30" in caught[0][1] and "training loss" in caught[0][1]
    # The same fit judged with a tol no epoch can beat (100 % of the best loss): converged.
    flat = NeuralNetClassifier(max_epochs=30, random_state=0, tol=1.0)
    assert _caught(lambda: flat.fit(X, y)) == []


def test_early_stopping_judges_the_validation_loss(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=15, random_state=0, early_stopping=True)
    caught = _caught(lambda: net.fit(X, y))
    assert [c for c, _ in caught] == [ConvergenceWarning]
    assert "validation loss" in caught[0][1]


def test_partial_fit_is_a_step_of_the_callers_loop_and_never_warns_of_convergence(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=5, random_state=0)
    assert _caught(lambda: net.partial_fit(X, y, classes=np.unique(y))) == []
    assert _caught(lambda: net.partial_fit(X, y)) == []


def test_a_warm_start_judges_its_own_epochs_for_divergence(iris):
    X, y = iris
    net = NeuralNetClassifier(lr=10, max_epochs=5, random_state=0, warm_start=True)
    assert DivergenceWarning in [c for c, _ in _caught(lambda: net.fit(X, y))]
    # Continued with a sound lr: the exploded epochs are the first fit's, not this one's.
    net.set_params(lr=1e-3, max_epochs=2)
    assert DivergenceWarning not in [c for c, _ in _caught(lambda: net.fit(X, y))]


@pytest.mark.parametrize("engine", ["joblib", "vectorized"])
def test_an_ensemble_gives_one_counted_warning_whichever_engine(iris, engine):
    X, y = iris
    ensemble = DeepEnsembleClassifier(
        NeuralNetClassifier(max_epochs=5), n_estimators=4, random_state=0, engine=engine
    )
    caught = _caught(lambda: ensemble.fit(X, y))
    assert [c for c, _ in caught] == [ConvergenceWarning]
    assert caught[0][1].startswith(
        "DeepEnsembleClassifier: 4 of 4 members gave this warning; the first: "
        "NeuralNetClassifier ran all"
    )


def test_an_ensemble_counts_the_members_that_diverged(iris):
    X, y = iris
    ensemble = DeepEnsembleClassifier(
        NeuralNetClassifier(lr=10, max_epochs=5), n_estimators=3, random_state=0, n_jobs=2
    )
    caught = _caught(lambda: ensemble.fit(X, y))
    categories = [c for c, _ in caught]
    assert categories.count(DivergenceWarning) == 1
    message = next(m for c, m in caught if c is DivergenceWarning)
    assert re.match(r"DeepEnsembleClassifier: [1-3] of 3 members", message)


def test_a_booster_gives_one_counted_warning_per_fit_not_per_stage(iris):
    X, y = iris
    booster = AdaBoostClassifier(NeuralNetClassifier(max_epochs=5), n_estimators=3, random_state=0)
    caught = _caught(lambda: booster.fit(X, y))
    assert [c for c, _ in caught] == [ConvergenceWarning]
    n = len(booster.estimators_)
    assert caught[0][1].startswith(
        f"AdaBoostClassifier: {n} of {n} members gave this warning; the first: NeuralNetClassifier"
    )


def _recorded(fit):
    """The warnings ``fit()`` gives, as recorded (with the file and line they point at)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    return caught


def test_an_ensemble_of_ensembles_says_it_once_without_nesting(iris):
    X, y = iris
    bag = BaggingClassifier(NeuralNetClassifier(max_epochs=3), n_estimators=3, random_state=0)
    cv = CVEnsembleClassifier(bag, cv=2, random_state=0, n_jobs=2)
    caught = _recorded(lambda: cv.fit(X, y))
    assert [w.category for w in caught] == [ConvergenceWarning]
    message = str(caught[0].message)
    assert message.startswith("CVEnsembleClassifier: ") and "NeuralNetClassifier ran all" in message
    assert message.count("gave this warning") == 1, message  # not "2 of 2: 3 of 3: ..."
    assert caught[0].filename == __file__  # from workers too, the user's line


def test_a_comparison_names_each_model_once_per_call(iris):
    X, y = iris
    models = {
        "scaled net": make_pipeline(StandardScaler(), NeuralNetClassifier(max_epochs=3)),
        "bag": BaggingClassifier(NeuralNetClassifier(max_epochs=3), n_estimators=2),
    }
    caught = _recorded(lambda: compare_models(models, X, y, cv=3, random_state=0, n_jobs=2))
    messages = sorted(str(w.message) for w in caught if w.category is ConvergenceWarning)
    assert len(messages) == 2
    assert messages[0].startswith("'bag' (BaggingClassifier): 3 of 3 folds gave this warning")
    assert messages[1].startswith(
        "'scaled net' (Pipeline(StandardScaler, NeuralNetClassifier)): 3 of 3 folds gave"
    )
    assert {w.filename for w in caught} == {__file__}


def test_a_search_gives_one_warning_for_its_candidates_and_refit(iris):
    X, y = iris
    search = StackedGridSearchCV(NeuralNetClassifier(max_epochs=3), {"lr": [0.01, 0.02]}, cv=2)
    caught = _recorded(lambda: search.fit(X, y))
    assert [str(w.message)[:51] for w in caught] == [
        "StackedGridSearchCV: 5 of 5 fits gave this warning;"
    ]


def test_a_net_that_early_stops_is_told_the_settings_that_apply(iris):
    X, y = iris
    net = NeuralNetClassifier(max_epochs=3, early_stopping=True, random_state=0)
    (message,) = [m for c, m in _caught(lambda: net.fit(X, y)) if c is ConvergenceWarning]
    assert "validation loss" in message and "tol=0.01" in message
    assert "set early_stopping=True" not in message


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch
def test_copies_of_a_row_fall_on_one_side_of_the_early_stopping_split(iris):
    """A bootstrap draws rows more than once: a copy on each side would make the
    validation loss a training loss, and early stopping would never stop."""
    X, y = iris
    rows = np.random.RandomState(0).choice(len(X), len(X))
    net = NeuralNetClassifier(early_stopping=True, random_state=0)
    net.set_params(max_epochs=1).fit(X, y)  # draws the split's seed
    labels = _copies(X[rows])
    train, valid = net._split_positions(len(rows), y[rows], copies=labels)
    assert len(valid) and not set(labels[train]) & set(labels[valid])
    assert len(valid) / len(rows) == pytest.approx(0.1, abs=0.05)
    # The same groups whether the net gets the rows' values or their positions in X.
    relabel = lambda v: np.unique(v, return_inverse=True)[1].ravel()  # noqa: E731
    assert np.array_equal(relabel(_copies(X, rows)), labels)
    assert len(np.unique(_copies(X))) == 149  # iris holds one row twice
    assert _copies(np.arange(12.0).reshape(4, 3)) is None  # distinct rows: the plain split
