"""scikit-learn's conventions at the edges: refits, odd estimators, one-class draws, weights.

The behaviours scikit-learn's own bagging and boosting tests hold their estimators to, held
here against ensemblekit's (our own tests of the same behaviours; see docs/differences.md
for the cases we do not follow and why).
"""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    CVEnsembleClassifier,
    CVEnsembleRegressor,
    DeepEnsembleClassifier,
)
from ensemblekit.model_selection import bias_variance_decomp, bootstrap_score
from ensemblekit.nets import NeuralNetClassifier


class _FitReturnsNone(BaseEstimator):
    """A learner whose ``fit`` returns None, as many users' and scikit-learn's test ones do."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        tree = DecisionTreeClassifier if self._is_classifier else DecisionTreeRegressor
        self.tree_ = tree(max_depth=3, random_state=self.random_state).fit(
            X, y, sample_weight=sample_weight
        )
        self.classes_ = getattr(self.tree_, "classes_", None)

    def predict(self, X):
        return self.tree_.predict(X)


class _ClassifierReturnsNone(ClassifierMixin, _FitReturnsNone):
    _is_classifier = True

    def predict_proba(self, X):
        return self.tree_.predict_proba(X)


class _RegressorReturnsNone(RegressorMixin, _FitReturnsNone):
    _is_classifier = False


# ---------------------------------------------------------------- out-of-bag results
@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize(
    ("cls", "data", "attributes"),
    [
        (BaggingClassifier, "binary", ("oob_score_", "oob_decision_function_")),
        (BaggingRegressor, "regression", ("oob_score_", "oob_prediction_")),
    ],
)
def test_refit_without_oob_score_drops_the_old_scores(cls, data, attributes, warm_start, request):
    X, y = request.getfixturevalue(data)
    tree = DecisionTreeClassifier if cls is BaggingClassifier else DecisionTreeRegressor
    ens = cls(tree(), n_estimators=20, oob_score=True, random_state=0).fit(X, y)
    assert all(hasattr(ens, name) for name in attributes)
    ens.set_params(oob_score=False, warm_start=warm_start, n_estimators=22).fit(X, y)
    assert not any(hasattr(ens, name) for name in attributes)
    assert len(ens) == 22


# ---------------------------------------------------------------- fit that returns None
@pytest.mark.parametrize(
    "make",
    [
        lambda: BaggingClassifier(_ClassifierReturnsNone(), n_estimators=3, random_state=0),
        lambda: BaggingRegressor(_RegressorReturnsNone(), n_estimators=3, random_state=0),
        lambda: AdaBoostClassifier(_ClassifierReturnsNone(), n_estimators=3, random_state=0),
        lambda: AdaBoostRegressor(_RegressorReturnsNone(), n_estimators=3, random_state=0),
        lambda: CVEnsembleClassifier(_ClassifierReturnsNone(), cv=3),
        lambda: CVEnsembleRegressor(_RegressorReturnsNone(), cv=3),
        lambda: DeepEnsembleClassifier(_ClassifierReturnsNone(), n_members=2, random_state=0),
    ],
)
def test_members_whose_fit_returns_none_are_kept(make, binary):
    X, y = binary
    ens = make().fit(X, y)
    assert all(isinstance(member, _FitReturnsNone) for member in ens.estimators_)
    assert all(hasattr(member, "tree_") for member in ens.estimators_)
    assert ens.predict(X).shape == (len(X),)


def test_validation_tools_take_a_fit_that_returns_none(binary):
    X, y = binary
    result = bootstrap_score(_ClassifierReturnsNone(random_state=0), X, y, n_rounds=3)
    assert 0.5 < result.estimate <= 1.0
    decomposition = bias_variance_decomp(
        _ClassifierReturnsNone(), X[:150], y[:150], X[150:], y[150:], n_rounds=3, random_state=0
    )
    assert 0.0 <= decomposition.expected_loss <= 1.0


# ---------------------------------------------------------------- draws of one class
@pytest.fixture(scope="module")
def rare_positive():
    """A 97/3 problem: a 5% draw of its rows often holds negatives only."""
    return make_classification(
        n_samples=400, n_features=5, weights=[0.97], flip_y=0, random_state=0
    )


def test_member_nets_fit_a_draw_of_one_class(rare_positive, tiny_net_params):
    X, y = rare_positive
    bag = BaggingClassifier(
        NeuralNetClassifier(**tiny_net_params), n_estimators=6, max_samples=0.05, random_state=0
    ).fit(X, y)
    single = [len(np.unique(y[rows])) == 1 for rows in bag.estimators_samples_]
    assert any(single), "the fixture should give some member rows of one class"
    # Every member knows both classes and predicts both columns.
    assert all(list(member.classes_) == [0, 1] for member in bag.estimators_)
    proba = bag.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # A member that saw negatives only leans to the negative class.
    lone = bag.estimators_[single.index(True)]
    assert lone.predict_proba(X)[:, 0].mean() > 0.5


def test_a_draw_of_one_class_names_the_fix_for_learners_that_need_two(rare_positive):
    X, y = rare_positive
    with pytest.raises(ValueError, match=r"drew rows of a single class.*raise max_samples"):
        BaggingClassifier(
            LogisticRegression(), n_estimators=6, max_samples=0.05, random_state=0
        ).fit(X, y)


def test_the_net_classes_parameter(binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(classes=[0, 1, 2], random_state=0, **tiny_net_params)
    net.fit(X[y == 0], y[y == 0])
    assert list(net.classes_) == [0, 1, 2]
    assert net.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match=r"labels \[1\] not among the classes.*`classes`"):
        NeuralNetClassifier(classes=[0, 2], **tiny_net_params).fit(X, y)
    with pytest.raises(ValueError, match="needs all labels in `classes`"):
        NeuralNetClassifier(**tiny_net_params).fit(X[y == 0], y[y == 0])


# ---------------------------------------------------------------- rows of weight zero
@pytest.mark.parametrize("bootstrap", [True, False])
def test_rows_of_weight_zero_are_rows_left_out(bootstrap, binary):
    X, y = binary
    weight = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    weight[::3] = 0.0
    kept = weight > 0
    params = {"n_estimators": 5, "max_samples": 0.5, "bootstrap": bootstrap, "random_state": 0}
    bag = BaggingClassifier(DecisionTreeClassifier(random_state=0), **params)
    bag.fit(X, y, sample_weight=weight)
    assert all(np.all(weight[rows] > 0) for rows in bag.estimators_samples_)
    dropped = BaggingClassifier(DecisionTreeClassifier(random_state=0), **params)
    dropped.fit(X[kept], y[kept], sample_weight=weight[kept])
    np.testing.assert_array_equal(bag.predict_proba(X), dropped.predict_proba(X))


def test_members_whose_rows_would_all_weigh_zero_still_fit(binary, tiny_net_params):
    X, y = binary
    weight = np.zeros(len(X))
    weight[:12] = 1.0
    bag = BaggingClassifier(
        NeuralNetClassifier(**tiny_net_params), n_estimators=4, max_samples=0.05, random_state=0
    ).fit(X, y, sample_weight=weight)
    assert len(bag) == 4
    with pytest.raises(ValueError, match=r"max_samples \(of rows weighing > 0\)=2 selects 2 of 1"):
        weight[1:] = 0.0
        BaggingClassifier(DecisionTreeClassifier(), max_samples=2).fit(X, y, sample_weight=weight)


# ---------------------------------------------------------------- a seeded learner keeps its seed
def test_bootstrap_score_keeps_the_learner_random_state_as_mlxtend(binary):
    from mlxtend.evaluate import bootstrap_point632_score

    X, y = binary
    learner = DecisionTreeClassifier(max_features=2, random_state=3)
    ours = bootstrap_score(learner, X, y, method="oob", n_rounds=15, random_state=0)
    theirs = bootstrap_point632_score(learner, X, y, n_splits=15, method="oob", random_seed=0)
    np.testing.assert_allclose(ours.scores, theirs, atol=1e-12)
    full = DecisionTreeClassifier(max_features=2, random_state=3).fit(X, y)
    assert ours.train_score == pytest.approx(full.score(X, y))
