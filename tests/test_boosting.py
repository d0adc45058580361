"""AdaBoost (SAMME, R2) and gradient boosting with net learners (issue 4)."""

import numpy as np
import pytest
import sklearn.ensemble as ske
from sklearn.datasets import load_diabetes, make_classification, make_friedman1
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _tiny_regressor(**kw):
    """A net that underfits on its own: one hidden layer of 2 units."""
    return NeuralNetRegressor(module__hidden_units=(2,), max_epochs=30, lr=1e-2, **kw)


@pytest.fixture(scope="module")
def friedman():
    X, y = make_friedman1(n_samples=300, noise=0.5, random_state=0)
    return StandardScaler().fit_transform(X), (y - y.mean()) / y.std()


# ---------------------------------------------------------------- AdaBoost vs scikit-learn
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("learning_rate", [1.0, 0.5])
def test_adaboost_samme_equals_scikit_learn(n_classes, learning_rate):
    X, y = make_classification(300, 8, n_informative=5, n_classes=n_classes, random_state=0)
    stump = DecisionTreeClassifier(max_depth=1)
    ours = AdaBoostClassifier(stump, 25, learning_rate=learning_rate, random_state=3).fit(X, y)
    theirs = ske.AdaBoostClassifier(
        stump, n_estimators=25, learning_rate=learning_rate, random_state=3
    ).fit(X, y)
    np.testing.assert_allclose(ours.estimator_weights_, theirs.estimator_weights_[: len(ours)])
    np.testing.assert_allclose(ours.estimator_errors_, theirs.estimator_errors_[: len(ours)])
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X))
    for a, b in zip(ours.staged_predict_proba(X), theirs.staged_predict_proba(X), strict=True):
        np.testing.assert_allclose(a, b)
    assert list(ours.staged_score(X, y)) == pytest.approx(list(theirs.staged_score(X, y)))


@pytest.mark.parametrize("loss", ["linear", "square", "exponential"])
def test_adaboost_r2_equals_scikit_learn(loss):
    X, y = load_diabetes(return_X_y=True)
    tree = DecisionTreeRegressor(max_depth=3)
    ours = AdaBoostRegressor(tree, 15, loss=loss, random_state=0).fit(X, y)
    theirs = ske.AdaBoostRegressor(tree, n_estimators=15, loss=loss, random_state=0).fit(X, y)
    np.testing.assert_allclose(ours.estimator_weights_, theirs.estimator_weights_[: len(ours)])
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X))
    for a, b in zip(ours.staged_predict(X), theirs.staged_predict(X), strict=True):
        np.testing.assert_allclose(a, b)


def test_adaboost_stops_on_a_perfect_member():
    X, y = make_classification(100, 4, random_state=0)
    boost = AdaBoostClassifier(DecisionTreeClassifier(), 10, random_state=0).fit(X, y)
    assert len(boost) == 1
    assert boost.estimator_weights_.tolist() == [1.0]
    assert boost.estimator_errors_.tolist() == [0.0]


def test_adaboost_resample_for_learners_without_sample_weight():
    X, y = make_classification(200, 6, random_state=0)
    with pytest.raises(ValueError, match="set resample=True"):
        AdaBoostClassifier(KNeighborsClassifier(), 3).fit(X, y)
    boost = AdaBoostClassifier(KNeighborsClassifier(), 5, resample=True, random_state=0).fit(X, y)
    assert len(boost) >= 1 and boost.score(X, y) > 0.8


def test_adaboost_boosts_nets_reproducibly(binary):
    X, y = binary
    net = NeuralNetClassifier(module__hidden_units=(4,), max_epochs=5, lr=1e-2)
    one = AdaBoostClassifier(net, 4, random_state=0).fit(X, y)
    two = AdaBoostClassifier(net, 4, random_state=0).fit(X, y)
    np.testing.assert_array_equal(one.predict_proba(X), two.predict_proba(X))
    assert (one.estimator_weights_ > 0).all()
    assert len({m.random_state for m in one}) == len(one)  # each stage its own seed
    assert AdaBoostRegressor(_tiny_regressor(), 3, random_state=0).fit(X, y.astype(float)).predict(
        X
    ).shape == (len(X),)


# ---------------------------------------------------------------- gradient boosting
def test_staged_training_loss_falls_stage_by_stage(friedman):
    X, y = friedman
    single = _tiny_regressor(random_state=0).fit(X, y)
    single_mse = np.mean((single.predict(X) - y) ** 2)
    gb = GradientBoostingRegressor(_tiny_regressor(), 12, learning_rate=0.3, random_state=0).fit(
        X, y
    )
    assert np.all(np.diff(gb.train_score_) < 0)
    assert gb.train_score_[-1] < single_mse  # boosting beats the underfitting net alone
    staged = list(gb.staged_predict(X))
    assert len(staged) == 12
    np.testing.assert_allclose(staged[-1], gb.predict(X))
    np.testing.assert_allclose(np.mean((staged[-1] - y) ** 2), gb.train_score_[-1])


def test_classifier_deviance_falls_and_probabilities_are_softmax(digits):
    X, y = digits
    gb = GradientBoostingClassifier(
        NeuralNetRegressor(module__hidden_units=(4,), max_epochs=5, lr=1e-2), 6,
        learning_rate=0.5, random_state=0,
    ).fit(X, y)  # fmt: skip
    np.testing.assert_allclose(gb.init_, np.log(np.bincount(y) / len(y)))
    assert np.all(np.diff(gb.train_score_) < 0)
    proba = gb.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(list(gb.staged_predict_proba(X))[-1], proba)
    assert gb[0].module_.layers[-1].out_features == 10  # one output per class
    assert gb.score(X, y) > 0.5  # six tiny stages, from the prior's 0.1


@pytest.mark.parametrize("loss", ["absolute_error", "huber"])
def test_robust_losses_improve_on_the_initial_guess(friedman, loss):
    X, y = friedman
    gb = GradientBoostingRegressor(
        DecisionTreeRegressor(max_depth=3), 20, loss=loss, learning_rate=0.3, random_state=0
    ).fit(X, y)
    assert gb.init_[0] == pytest.approx(np.median(y))
    assert gb.train_score_[-1] < 0.6 * gb.train_score_[0]


def test_early_stopping_keeps_the_best_number_of_stages(friedman):
    X, y = friedman
    gb = GradientBoostingRegressor(
        DecisionTreeRegressor(max_depth=6), 200, learning_rate=0.5, subsample=0.7,
        n_iter_no_change=3, random_state=0,
    ).fit(X, y)  # fmt: skip
    assert gb.n_estimators_ < 200
    assert gb.n_estimators_ == int(np.argmin(gb.validation_score_)) + 1
    assert len(gb) == gb.n_estimators_ == len(gb.train_score_)


def test_gradient_boosting_is_deterministic_and_searchable(friedman):
    X, y = friedman
    make = lambda: GradientBoostingRegressor(_tiny_regressor(), 3, random_state=0)  # noqa: E731
    np.testing.assert_array_equal(make().fit(X, y).predict(X), make().fit(X, y).predict(X))
    pipe = make_pipeline(StandardScaler(), make())
    grid = {
        "gradientboostingregressor__estimator__lr": [1e-2, 3e-2],
        "gradientboostingregressor__learning_rate": [0.1, 0.5],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert set(search.best_params_) == set(grid)


def test_boosting_errors(friedman, binary):
    X, y = friedman
    with pytest.raises(ValueError, match="pass a regressor"):
        GradientBoostingRegressor(DecisionTreeClassifier()).fit(X, y > 0)
    with pytest.raises(ValueError, match="'learning_rate' parameter"):
        GradientBoostingRegressor(learning_rate=0.0).fit(X, y)
    with pytest.raises(ValueError, match="'loss' parameter"):
        GradientBoostingRegressor(loss="quantile").fit(X, y)
    with pytest.raises(ValueError, match="'learning_rate' parameter"):
        AdaBoostClassifier(learning_rate=-1.0).fit(*binary)
    with pytest.raises(ValueError, match="'loss' parameter"):
        AdaBoostRegressor(loss="cubic").fit(X, y)
