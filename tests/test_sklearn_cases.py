"""The behaviours scikit-learn's own bagging and weight-boosting tests check, for ours.

Written for ensemblekit from the list of cases in scikit-learn's
``ensemble/tests/test_bagging.py`` and ``test_weight_boosting.py``; the cases we do not
follow are in docs/differences.md with the reason. Trees as members keep them fast; the
behaviours with net members are in test_ensemble.py, test_boosting.py and
test_conventions.py.
"""

import pickle
from itertools import product

import numpy as np
import pytest
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone
from sklearn.datasets import load_diabetes, load_iris
from sklearn.ensemble import AdaBoostClassifier as SkAdaBoostClassifier
from sklearn.feature_selection import SelectKBest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.utils import get_tags

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from ensemblekit.nets import NeuralNetClassifier


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True)
    order = np.random.RandomState(0).permutation(len(X))
    return X[order], y[order]


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X[:200], y[:200]


# ==================================================================== bagging
_DRAWS = list(
    product([0.5, 1.0], [1, 0.5, 1.0], [False, True], [False, True])
)  # max_samples, max_features, bootstrap, bootstrap_features


@pytest.mark.parametrize(("max_samples", "max_features", "bootstrap", "features"), _DRAWS)
def test_every_draw_setting_fits_and_predicts(iris, max_samples, max_features, bootstrap, features):
    X, y = iris
    params = {
        "n_estimators": 4, "max_samples": max_samples, "max_features": max_features,
        "bootstrap": bootstrap, "bootstrap_features": features, "random_state": 0,
    }  # fmt: skip
    bag = BaggingClassifier(DecisionTreeClassifier(), **params).fit(X, y)
    assert bag.predict(X).shape == (len(X),)
    n_rows = round(max_samples * len(X))
    n_features = max_features if isinstance(max_features, int) else round(max_features * 4)
    for rows, columns in zip(bag.estimators_samples_, bag.estimators_features_, strict=True):
        assert len(rows) == n_rows  # the count each member draws is max_samples
        assert len(columns) == n_features
        assert bootstrap or len(np.unique(rows)) == n_rows
        assert features or len(np.unique(columns)) == n_features
    regressor = BaggingRegressor(DecisionTreeRegressor(), **params).fit(X, y.astype(float))
    assert regressor.predict(X).shape == (len(X),)


def test_drawing_with_replacement_repeats_rows_and_columns(iris):
    X, y = iris
    bag = BaggingClassifier(
        DecisionTreeClassifier(), n_estimators=5, bootstrap_features=True, random_state=0
    ).fit(X, y)
    assert any(len(np.unique(rows)) < len(rows) for rows in bag.estimators_samples_)
    assert any(len(np.unique(cols)) < len(cols) for cols in bag.estimators_features_)
    # Pasting every row: each tree sees the whole training set and fits it exactly.
    pasted = BaggingClassifier(
        DecisionTreeClassifier(), n_estimators=3, bootstrap=False, random_state=0
    ).fit(X, y)
    assert all(member.score(X, y) == 1.0 for member in pasted.estimators_)
    # A bootstrap leaves about a third of the rows out: a tree misses some of them.
    assert any(member.score(X, y) < 1.0 for member in bag.estimators_)


def test_one_member_on_all_rows_and_columns_is_the_estimator_itself(iris):
    X, y = iris
    bag = BaggingClassifier(
        KNeighborsClassifier(), n_estimators=1, bootstrap=False, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(
        bag.predict_proba(X), KNeighborsClassifier().fit(X, y).predict_proba(X)
    )


@pytest.mark.parametrize(
    ("cls", "tree", "target"),
    [
        (BaggingClassifier, DecisionTreeClassifier, "labels"),
        (BaggingRegressor, DecisionTreeRegressor, "values"),
        (AdaBoostClassifier, DecisionTreeClassifier, "labels"),
        (AdaBoostRegressor, DecisionTreeRegressor, "values"),
    ],
)
@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_X_gives_what_dense_X_gives(iris, cls, tree, target, fmt):
    X, y = iris
    y = y if target == "labels" else y.astype(float)
    params = {"n_estimators": 4, "random_state": 0}
    if cls in (BaggingClassifier, BaggingRegressor):
        params.update(max_features=0.5, bootstrap_features=True)
    dense = cls(tree(random_state=0), **params).fit(X, y)
    X_sparse = sparse.coo_matrix(X).asformat(fmt)
    ens = cls(tree(random_state=0), **params).fit(X_sparse, y)
    np.testing.assert_allclose(ens.predict(X_sparse), dense.predict(X))


_FORMATS: list = []


class _RecordsFormat:
    """Records the sparse format a tree is given to fit and to predict, in ``_FORMATS``."""

    def _record(self, step, X):
        _FORMATS.append((step, X.format if sparse.issparse(X) else "dense"))

    def fit(self, X, y, sample_weight=None):
        self._record("fit", X)
        return super().fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        self._record("predict", X)
        return super().predict(X)


class _FormatTree(_RecordsFormat, DecisionTreeRegressor):
    pass


class _FormatTreeClassifier(_RecordsFormat, DecisionTreeClassifier):
    def predict_proba(self, X):
        self._record("predict", X)
        return super().predict_proba(X)


@pytest.mark.parametrize(
    ("cls", "tree", "params"),
    [
        (BaggingClassifier, _FormatTreeClassifier, {}),
        (BaggingRegressor, _FormatTree, {"max_features": 0.5, "bootstrap_features": True}),
        (AdaBoostClassifier, _FormatTreeClassifier, {}),
        (AdaBoostRegressor, _FormatTree, {}),
        (GradientBoostingClassifier, _FormatTree, {}),
        (GradientBoostingRegressor, _FormatTree, {}),
    ],
)
@pytest.mark.parametrize(("given", "received"), [("csc", "csc"), ("csr", "csr"), ("coo", "csr")])
def test_members_receive_the_sparse_container_given(iris, cls, tree, params, given, received):
    # As scikit-learn's ensembles: CSC and CSR reach the members as given, COO as CSR.
    X, y = iris
    y = y if issubclass(cls, ClassifierMixin) else y.astype(float)
    X_sparse = sparse.coo_matrix(X).asformat(given)
    _FORMATS.clear()
    ens = cls(tree(max_depth=3, random_state=0), n_estimators=3, random_state=0, **params)
    ens.fit(X_sparse, y).predict(X_sparse)
    assert {fmt for _, fmt in _FORMATS} == {received}
    assert {step for step, _ in _FORMATS} == {"fit", "predict"}


def test_bagging_a_pipeline(iris):
    X, y = iris
    pipe = make_pipeline(SelectKBest(k=2), DecisionTreeClassifier(random_state=0))
    bag = BaggingClassifier(pipe, n_estimators=3, max_features=3, random_state=0).fit(X, y)
    assert bag.score(X, y) > 0.8
    assert all(m.named_steps["selectkbest"].n_features_in_ == 3 for m in bag.estimators_)


def test_missing_values_pass_to_members_that_take_them(iris):
    X, y = iris
    X = X.copy()
    X[::7, 1] = np.nan
    imputing = make_pipeline(SimpleImputer(), DecisionTreeClassifier(random_state=0))
    bag = BaggingClassifier(imputing, n_estimators=3, random_state=0)
    assert bag.fit(X, y).predict(X).shape == (len(X),)
    net_bag = BaggingClassifier(NeuralNetClassifier(max_epochs=1), n_estimators=2)
    assert not get_tags(net_bag).input_tags.allow_nan
    with pytest.raises(ValueError, match="NaN"):
        net_bag.fit(X, y)


def test_oob_score_is_the_same_for_the_same_seed_and_any_labels(iris):
    X, y = iris
    params = {"n_estimators": 10, "oob_score": True, "random_state": 3}
    scores = [
        BaggingClassifier(DecisionTreeClassifier(random_state=0), **params).fit(X, labels)
        for labels in (y, y + 5, np.array(["setosa", "versicolor", "virginica"])[y])
    ]
    assert scores[0].oob_score_ == scores[1].oob_score_ == scores[2].oob_score_
    again = BaggingClassifier(DecisionTreeClassifier(random_state=0), **params).fit(X, y)
    assert again.oob_score_ == scores[0].oob_score_
    np.testing.assert_array_equal(again.oob_decision_function_, scores[2].oob_decision_function_)


def test_warm_start_below_the_fitted_members_is_an_error(iris):
    X, y = iris
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=4, warm_start=True)
    bag.fit(X, y).set_params(n_estimators=2)
    with pytest.raises(ValueError, match="n_estimators=2 is below the 4 members already fitted"):
        bag.fit(X, y)


def test_grid_search_reaches_member_parameters(iris):
    X, y = iris
    search = GridSearchCV(
        BaggingClassifier(DecisionTreeClassifier(), n_estimators=3, random_state=0),
        {"max_samples": [0.5, 1.0], "estimator__max_depth": [1, 3]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["estimator__max_depth"] == 3


# ==================================================================== AdaBoost
def test_adaboost_staged_outputs_end_at_the_final_ones(iris, diabetes):
    X, y = iris
    boost = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=6)
    boost.fit(X, y)
    for staged, final in (
        (boost.staged_predict(X), boost.predict(X)),
        (boost.staged_predict_proba(X), boost.predict_proba(X)),
        (boost.staged_decision_function(X), boost.decision_function(X)),
        (boost.staged_score(X, y), boost.score(X, y)),
    ):
        outputs = list(staged)
        assert len(outputs) == len(boost)
        np.testing.assert_allclose(outputs[-1], final)
    Xr, yr = diabetes
    regressor = AdaBoostRegressor(DecisionTreeRegressor(max_depth=2), n_estimators=4).fit(Xr, yr)
    predictions = list(regressor.staged_predict(Xr))
    assert len(predictions) == len(regressor)
    np.testing.assert_allclose(predictions[-1], regressor.predict(Xr))


def test_adaboost_predict_is_the_argmax_of_its_probabilities(iris):
    X, y = iris
    boost = AdaBoostClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=5).fit(X, y)
    np.testing.assert_array_equal(
        boost.classes_[np.argmax(boost.predict_proba(X), axis=1)], boost.predict(X)
    )


def test_adaboost_decision_function_is_symmetric(iris):
    X, y = iris
    multi = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=5).fit(X, y)
    # SAMME's symmetric coding: each row's scores sum to zero.
    np.testing.assert_allclose(multi.decision_function(X).sum(axis=1), 0.0, atol=1e-12)
    binary = y < 2
    two = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=5)
    decision = two.fit(X[binary], y[binary]).decision_function(X[binary])
    assert decision.shape == (binary.sum(),)
    np.testing.assert_array_equal(two.predict(X[binary]), two.classes_[(decision > 0) * 1])


def test_adaboost_in_a_search_and_pickled(iris):
    X, y = iris
    search = GridSearchCV(
        AdaBoostClassifier(DecisionTreeClassifier(), random_state=0),
        {"n_estimators": [1, 3], "estimator__max_depth": [1, 2]},
        cv=3,
    ).fit(X, y)
    boost = search.best_estimator_
    again = pickle.loads(pickle.dumps(boost))
    np.testing.assert_array_equal(again.predict_proba(X), boost.predict_proba(X))
    assert type(again.estimator_) is DecisionTreeClassifier


@pytest.mark.parametrize("cls", [AdaBoostClassifier, AdaBoostRegressor])
def test_adaboost_refuses_bad_sample_weight(cls, iris):
    X, y = iris
    tree = DecisionTreeClassifier() if cls is AdaBoostClassifier else DecisionTreeRegressor()
    weight = np.ones(len(X))
    weight[-1] = -10
    with pytest.raises(ValueError, match="sample_weight has negative entries"):
        cls(tree).fit(X, y, sample_weight=weight)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\), expected \(150,\)"):
        cls(tree).fit(X, y, sample_weight=np.ones(3))


def test_adaboost_importances_stay_finite_with_tiny_weights():
    rng = np.random.RandomState(42)
    X = rng.normal(size=(300, 6))
    y = rng.choice([0, 1], size=300)
    boost = AdaBoostClassifier(DecisionTreeClassifier(max_depth=6, random_state=1), random_state=1)
    boost.set_params(n_estimators=10).fit(X, y, sample_weight=np.full(300, 1e-263))
    assert np.isfinite(boost.feature_importances_).all()
    theirs = SkAdaBoostClassifier(DecisionTreeClassifier(max_depth=6, random_state=1))
    theirs.set_params(n_estimators=10, random_state=1).fit(X, y, sample_weight=np.full(300, 1e-263))
    np.testing.assert_allclose(boost.feature_importances_, theirs.feature_importances_)


class _Zeros(RegressorMixin, BaseEstimator):
    """A learner without sample_weight whose fit returns None."""

    def fit(self, X, y):
        pass

    def predict(self, X):
        return np.zeros(X.shape[0])


def test_adaboost_r2_needs_no_sample_weight_in_its_learner(diabetes):
    X, y = diabetes
    boost = AdaBoostRegressor(_Zeros(), n_estimators=3).fit(X, y)
    assert len(boost.estimator_weights_) == len(boost.estimator_errors_) == len(boost)


def test_adaboost_r2_weight_zero_is_a_row_left_out():
    rng = np.random.RandomState(42)
    X = np.linspace(0, 100, num=400).reshape(-1, 1)
    y = 0.8 * X[:, 0] + 0.2 + rng.rand(400) * 1e-4
    X[-1] *= 10
    y[-1] = 10000  # an outlier
    weight = np.ones(400)
    weight[-1] = 0
    make = AdaBoostRegressor(LinearRegression(), n_estimators=1, random_state=0)
    with_outlier = clone(make).fit(X, y).score(X[:-1], y[:-1])
    without = clone(make).fit(X[:-1], y[:-1]).score(X[:-1], y[:-1])
    weighted = clone(make).fit(X, y, sample_weight=weight).score(X[:-1], y[:-1])
    assert with_outlier < without
    assert weighted == pytest.approx(without)


def test_boosting_regressor_takes_knn_without_sample_weight_only_by_resampling(diabetes):
    X, y = diabetes
    # R2 always resamples, so a learner without sample_weight is fine.
    assert AdaBoostRegressor(KNeighborsRegressor(), n_estimators=2).fit(X, y).predict(X).shape
    with pytest.raises(ValueError, match="does not take sample_weight; set resample=True"):
        AdaBoostClassifier(KNeighborsClassifier()).fit(X, y > np.median(y))
