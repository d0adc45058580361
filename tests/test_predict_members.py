"""Every ensemble answers ``predict_members(X)``: each member's own prediction, stacked,
(n_members, n_samples, ...). Ensembles are found from ``ensemblekit.ensemble.__all__``."""

import numpy as np
import pytest
from sklearn.base import is_classifier
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import RidgeClassifier
from sklearn.preprocessing import StandardScaler

import ensemblekit.ensemble
from ensemblekit.ensemble import AdaBoostClassifier
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ENSEMBLES = [getattr(ensemblekit.ensemble, name) for name in ensemblekit.ensemble.__all__]
NET = {"max_epochs": 3, "module__hidden_units": (8,)}


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    Xr, yr = make_regression(n_samples=120, n_features=4, random_state=0)
    return StandardScaler().fit_transform(X), y, Xr, yr / yr.std()


def _ensemble(cls):
    regressor_members = cls.__name__.endswith("Regressor") or "GradientBoosting" in cls.__name__
    member = (NeuralNetRegressor if regressor_members else NeuralNetClassifier)(**NET)
    if "CV" in cls.__name__:
        return cls(member, cv=3, random_state=0)
    if "Snapshot" in cls.__name__:
        return cls(member.set_params(max_epochs=6), n_estimators=3, random_state=0)
    return cls(member, n_estimators=3, random_state=0)


@pytest.mark.parametrize("cls", ENSEMBLES, ids=lambda c: c.__name__)
def test_every_ensemble_predicts_its_members(data, cls):
    X, y, Xr, yr = data
    ensemble = _ensemble(cls)
    with pytest.raises(NotFittedError):
        ensemble.predict_members(X)
    classifier = is_classifier(ensemble)
    X, y = (X, y) if classifier else (Xr, yr)
    ensemble.fit(X, y)
    members = ensemble.predict_members(X[:9])
    expected = (9, len(ensemble.classes_)) if classifier else (9,)
    assert members.shape == (len(ensemble), *expected)
    if classifier and "GradientBoosting" not in cls.__name__:  # its stages fit gradients
        np.testing.assert_allclose(members.sum(axis=2), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="features"):
        ensemble.predict_members(X[:9, :2])


@pytest.mark.parametrize(
    "cls", [c for c in ENSEMBLES if "Boost" not in c.__name__], ids=lambda c: c.__name__
)
def test_a_voting_ensemble_predicts_the_mean_of_its_members(data, cls):
    X, y, Xr, yr = data
    ensemble = _ensemble(cls)
    classifier = is_classifier(ensemble)
    X, y = (X, y) if classifier else (Xr, yr)
    ensemble.fit(X, y)
    members = ensemble.predict_members(X)
    combined = ensemble.predict_proba(X) if classifier else ensemble.predict(X)
    np.testing.assert_array_equal(combined, members.mean(axis=0))
    # Each row block is that member's own prediction (stacked or not, to float rounding).
    for i in ensemble._combined_indices():
        own = ensemble.estimators_[i]
        answer = own.predict_proba(X) if classifier else own.predict(X)
        np.testing.assert_allclose(members[list(ensemble._combined_indices()).index(i)],
                                   answer, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("name", ["AdaBoostRegressor", "GradientBoostingRegressor"])
def test_a_booster_gives_each_stage_learners_own_prediction(data, name):
    _, _, X, y = data
    booster = _ensemble(getattr(ensemblekit.ensemble, name)).fit(X, y)
    members = booster.predict_members(X)
    for stage, learner in zip(members, booster.estimators_, strict=True):
        np.testing.assert_array_equal(stage, learner.predict(X))


def test_a_learner_without_predict_proba_votes_one_hot(data):
    X, y, _, _ = data
    booster = AdaBoostClassifier(RidgeClassifier(), n_estimators=3, random_state=0).fit(X, y)
    members = booster.predict_members(X)
    for stage, learner in zip(members, booster.estimators_, strict=True):
        assert set(np.unique(stage)) <= {0.0, 1.0}
        np.testing.assert_array_equal(booster.classes_[stage.argmax(axis=1)], learner.predict(X))
