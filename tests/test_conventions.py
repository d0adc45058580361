"""scikit-learn's conventions at the edges: refits, odd estimators, one-class draws, weights.

The behaviours scikit-learn's own bagging and boosting tests hold their estimators to, held
here against ensemblekit's (our own tests of the same behaviours; see docs/differences.md
for the cases we do not follow and why).
"""

import subprocess
import sys

import numpy as np
import pytest
import torch
from _learners import TreeClassifier, TreeLearner, TreeRegressor
from sklearn.base import BaseEstimator, ClassifierMixin, clone
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
    GradientBoostingClassifier,
    SnapshotEnsembleClassifier,
)
from ensemblekit.model_selection import bias_variance_decomp, bootstrap_score
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


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
        lambda: BaggingClassifier(TreeClassifier(), n_estimators=3, random_state=0),
        lambda: BaggingRegressor(TreeRegressor(), n_estimators=3, random_state=0),
        lambda: AdaBoostClassifier(TreeClassifier(), n_estimators=3, random_state=0),
        lambda: AdaBoostRegressor(TreeRegressor(), n_estimators=3, random_state=0),
        lambda: CVEnsembleClassifier(TreeClassifier(), cv=3),
        lambda: CVEnsembleRegressor(TreeRegressor(), cv=3),
        lambda: DeepEnsembleClassifier(TreeClassifier(), n_estimators=2, random_state=0),
    ],
)
def test_members_whose_fit_returns_none_are_kept(make, binary):
    X, y = binary
    ens = make().fit(X, y)
    assert all(isinstance(member, TreeLearner) for member in ens.estimators_)
    assert all(hasattr(member, "tree_") for member in ens.estimators_)
    assert ens.predict(X).shape == (len(X),)


def test_validation_tools_take_a_fit_that_returns_none(binary):
    X, y = binary
    result = bootstrap_score(TreeClassifier(random_state=0), X, y, n_rounds=3)
    assert 0.5 < result.estimate <= 1.0
    decomposition = bias_variance_decomp(
        TreeClassifier(), X[:150], y[:150], X[150:], y[150:], n_rounds=3, random_state=0
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
        BaggingClassifier(DecisionTreeClassifier(), max_samples=2, bootstrap=False).fit(
            X, y, sample_weight=weight
        )


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


# ---------------------------------------------------------------- metadata routing
class _GroupsSpy(ClassifierMixin, BaseEstimator):
    """A tree that records the ``groups``, ``tag`` (one per row) and ``note`` its fit was
    given."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None, groups=None, tag=None, note=None):
        self.tree_ = DecisionTreeClassifier(max_depth=2, random_state=self.random_state)
        self.tree_.fit(X, y, sample_weight=sample_weight)
        self.classes_ = self.tree_.classes_
        self.groups_, self.tag_, self.note_ = groups, tag, note
        return self

    def predict(self, X):
        return self.tree_.predict(X)

    def predict_proba(self, X):
        return self.tree_.predict_proba(X)


_ROUTING_ENSEMBLES = [
    lambda est: BaggingClassifier(est, n_estimators=3, max_samples=0.5, random_state=0),
    lambda est: DeepEnsembleClassifier(est, n_estimators=2, random_state=0),
    lambda est: CVEnsembleClassifier(est, cv=3),
    lambda est: AdaBoostClassifier(est, n_estimators=2, random_state=0),
]


def _rows_seen(ens, index, n):
    samples = getattr(ens, "estimators_samples_", None)
    if samples is not None:
        return samples[index]
    if hasattr(ens, "splits_"):
        return ens.splits_[index][0]
    return np.arange(n)


@pytest.mark.parametrize("make", _ROUTING_ENSEMBLES)
@pytest.mark.parametrize("routing", [False, True])
def test_fit_params_reach_the_members_at_their_rows(make, routing, binary):
    from sklearn import config_context

    X, y = binary
    tag = np.arange(len(X)) % 7
    with config_context(enable_metadata_routing=routing):
        spy = _GroupsSpy().set_fit_request(tag=True, note=True) if routing else _GroupsSpy()
        ens = make(spy).fit(X, y, tag=tag, note="hello")
    for index, member in enumerate(ens.estimators_):
        np.testing.assert_array_equal(member.tag_, tag[_rows_seen(ens, index, len(X))])
        assert member.note_ == "hello"


def test_with_routing_an_unrequested_fit_param_fails_and_names_the_request(binary):
    from sklearn import config_context

    X, y = binary
    with config_context(enable_metadata_routing=True):
        with pytest.raises(ValueError, match=r"\[groups\] are passed but are not.*set_fit_request"):
            BaggingClassifier(_GroupsSpy(), n_estimators=2).fit(X, y, groups=np.zeros(len(X)))
        # Requested as False and routed nowhere else: scikit-learn's TypeError, as for
        # its own meta-estimators.
        spy = _GroupsSpy().set_fit_request(groups=False, note=True)
        with pytest.raises(TypeError, match=r"unexpected argument\(s\) \{'groups'\}"):
            BaggingClassifier(spy, n_estimators=2).fit(X, y, groups=np.zeros(len(X)), note=1)
        bag = BaggingClassifier(spy, n_estimators=2).fit(X, y, note=1)
    assert all(m.groups_ is None and m.note_ == 1 for m in bag.estimators_)


def test_routing_through_a_search_into_the_members(binary):
    from sklearn import config_context
    from sklearn.model_selection import GridSearchCV, GroupKFold

    X, y = binary
    groups = np.arange(len(X)) % 5
    with config_context(enable_metadata_routing=True):
        bag = BaggingClassifier(_GroupsSpy().set_fit_request(groups=True), random_state=0)
        search = GridSearchCV(bag, {"n_estimators": [2, 3]}, cv=GroupKFold(3))
        search.fit(X, y, groups=groups)
    best = search.best_estimator_
    for member, rows in zip(best.estimators_, best.estimators_samples_, strict=True):
        np.testing.assert_array_equal(member.groups_, groups[rows])


@pytest.mark.parametrize("kind", ["deep", "bagging"])
def test_routing_validation_rows_to_member_nets(kind, binary, tiny_net_params):
    from sklearn import config_context

    X, y = binary
    net = NeuralNetClassifier(early_stopping=True, **tiny_net_params)
    with config_context(enable_metadata_routing=True):
        net.set_fit_request(X_val=True, y_val=True)
        if kind == "deep":
            ens = DeepEnsembleClassifier(net, n_estimators=2, random_state=0)
        else:  # the rows given replace bagging's own choice, each member's out-of-bag rows
            ens = BaggingClassifier(net, n_estimators=2, random_state=0)
        ens.fit(X[:150], y[:150], X_val=X[150:], y_val=y[150:])
    for index, member in enumerate(ens.estimators_):
        # Each member monitored the rows given: the same history as its net fitted alone
        # on its rows with X_val, y_val passed by hand.
        rows = _rows_seen(ens, index, 150)
        alone = clone(member).fit(X[rows], y[rows], X_val=X[150:], y_val=y[150:])
        np.testing.assert_allclose(
            member.history_[:, "valid_loss"], alone.history_[:, "valid_loss"], rtol=1e-6
        )


def test_validation_tools_route_fit_params(binary):
    from sklearn import config_context
    from sklearn.model_selection import GridSearchCV, GroupKFold

    from ensemblekit.model_selection import nested_cross_validate

    X, y = binary
    groups = np.arange(len(X)) % 6
    with config_context(enable_metadata_routing=True):
        spy = _GroupsSpy(random_state=0).set_fit_request(groups=True)
        result = bootstrap_score(spy, X, y, n_rounds=2, random_state=0, params={"groups": groups})
        assert 0 < result.estimate <= 1
        search = GridSearchCV(
            _GroupsSpy().set_fit_request(groups=True), {"random_state": [0, 1]}, cv=GroupKFold(3)
        )
        nested = nested_cross_validate(
            search, X, y, outer_cv=GroupKFold(3), groups=groups, params={"groups": groups}
        )
    # The inner search grouped its folds by the outer training rows' groups.
    for outer, (train, _) in zip(nested.searches, GroupKFold(3).split(X, y, groups), strict=True):
        np.testing.assert_array_equal(outer.best_estimator_.groups_, groups[train])


# ---------------------------------------------------------------- predict_log_proba, estimator_
def _classifiers(net):
    from ensemblekit.ensemble import GradientBoostingClassifier, SnapshotEnsembleClassifier

    return [
        net,
        BaggingClassifier(net, n_estimators=2, random_state=0),
        DeepEnsembleClassifier(net, n_estimators=2, random_state=0),
        CVEnsembleClassifier(net, cv=2),
        SnapshotEnsembleClassifier(net, n_estimators=2, random_state=0),
        AdaBoostClassifier(net, n_estimators=2, random_state=0),
        GradientBoostingClassifier(n_estimators=2, random_state=0),
    ]


@pytest.mark.parametrize("index", range(7))
def test_every_classifier_has_predict_log_proba(index, binary, tiny_net_params):
    X, y = binary
    clf = _classifiers(NeuralNetClassifier(random_state=0, **tiny_net_params))[index].fit(X, y)
    log_proba = clf.predict_log_proba(X)
    np.testing.assert_allclose(np.exp(log_proba), clf.predict_proba(X), rtol=1e-6, atol=1e-12)
    if index > 0:  # the ensembles keep the validated template
        assert clf.estimator_ is not None and hasattr(clf.estimator_, "fit")


def test_net_log_proba_is_finite_where_proba_rounds_to_zero(binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(random_state=0, **tiny_net_params).fit(X, y)
    with torch.no_grad():
        for parameter in net.module_.parameters():
            parameter.mul_(300.0)  # logits hundreds apart: float32 softmax gives exact 0s
    assert (net.predict_proba(X) == 0).any()
    assert np.isfinite(net.predict_log_proba(X)).all()


def test_estimator_is_the_validated_template(binary):
    X, y = binary
    tree = DecisionTreeClassifier(max_depth=2)
    assert BaggingClassifier(tree, n_estimators=2).fit(X, y).estimator_ is tree
    default = BaggingClassifier(n_estimators=2, max_samples=0.2).fit(X, y).estimator_
    # The default net, told every class of the ensemble.
    assert isinstance(default, NeuralNetClassifier) and default.classes == [0, 1]
    assert AdaBoostRegressor(DecisionTreeRegressor(), n_estimators=2).fit(X, y).estimator_


def test_a_warm_start_that_adds_no_member_warns(binary):
    X, y = binary
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=3, warm_start=True).fit(X, y)
    members = list(bag.estimators_)
    with pytest.warns(UserWarning, match="no member was added. Raise n_estimators"):
        bag.fit(X, y)
    assert bag.estimators_ == members


# ---------------------------------------------------------------- AdaBoost's extras
def test_adaboost_feature_importances_as_scikit_learn(binary):
    from sklearn.ensemble import AdaBoostClassifier as SkAdaBoost

    X, y = binary
    tree = DecisionTreeClassifier(max_depth=2)
    ours = AdaBoostClassifier(tree, n_estimators=5, random_state=0).fit(X, y)
    theirs = SkAdaBoost(tree, n_estimators=5, random_state=0).fit(X, y)
    np.testing.assert_allclose(ours.feature_importances_, theirs.feature_importances_)
    regressor = AdaBoostRegressor(DecisionTreeRegressor(max_depth=2), n_estimators=3)
    assert regressor.fit(X, y).feature_importances_.shape == (X.shape[1],)
    nets = AdaBoostClassifier(n_estimators=1, random_state=0).fit(X, y)
    with pytest.raises(AttributeError, match="its members \\(NeuralNetClassifier\\) have none"):
        nets.feature_importances_  # noqa: B018


def test_adaboost_warns_when_the_weights_overflow():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    boost = AdaBoostClassifier(
        DecisionTreeClassifier(max_depth=1), n_estimators=30, learning_rate=40.0, random_state=0
    )
    with pytest.warns(UserWarning, match="overflowed after stage .* lower learning_rate"):
        boost.fit(X, y)
    assert 0 < len(boost) < 30


class _FlatTree(ClassifierMixin, BaseEstimator):
    """A tree on images: flattens an n-d X itself."""

    def fit(self, X, y, sample_weight=None):
        self.tree_ = DecisionTreeClassifier(max_depth=2, random_state=0)
        self.tree_.fit(X.reshape(len(X), -1), y, sample_weight=sample_weight)
        self.classes_ = self.tree_.classes_
        return self

    def predict(self, X):
        return self.tree_.predict(X.reshape(len(X), -1))


def test_boosting_takes_nd_X_when_its_members_do(binary):
    X, y = binary
    images = X[:, :4].reshape(len(X), 2, 2)
    boost = AdaBoostClassifier(_FlatTree(), n_estimators=3, random_state=0).fit(images, y)
    flat = AdaBoostClassifier(_FlatTree(), n_estimators=3, random_state=0).fit(X[:, :4], y)
    np.testing.assert_array_equal(boost.predict(images), flat.predict(X[:, :4]))


# ---------------------------------------------------------------- sparse X
@pytest.fixture
def densified_rows(monkeypatch):
    """The row counts of every sparse matrix densified while the test runs."""
    from scipy import sparse

    counts = []
    toarray = sparse.csr_matrix.toarray

    def spy(self, *args, **kwargs):
        counts.append(self.shape[0])
        return toarray(self, *args, **kwargs)

    monkeypatch.setattr(sparse.csr_matrix, "toarray", spy)
    return counts


def test_nets_take_sparse_X_a_batch_at_a_time(binary, tiny_net_params, densified_rows):
    from scipy import sparse

    X, y = binary
    X = np.where(np.abs(X) > 1.0, X, 0.0)  # mostly zeros, as text features are
    dense = NeuralNetClassifier(random_state=0, **tiny_net_params).fit(X, y)
    net = NeuralNetClassifier(random_state=0, **tiny_net_params).fit(sparse.csr_matrix(X), y)
    np.testing.assert_array_equal(net.predict_proba(sparse.csc_matrix(X)), dense.predict_proba(X))
    assert densified_rows and max(densified_rows) <= tiny_net_params["batch_size"]


def test_ensembles_take_sparse_X_when_their_members_do(binary, tiny_net_params):
    from scipy import sparse

    X, y = binary
    X_sparse = sparse.csr_matrix(np.where(np.abs(X) > 1.0, X, 0.0))
    for estimator in (DecisionTreeClassifier(), NeuralNetClassifier(**tiny_net_params)):
        bag = BaggingClassifier(estimator, n_estimators=3, max_features=0.5, random_state=0)
        assert bag.fit(X_sparse, y).predict_proba(X_sparse).shape == (len(X), 2)
    with pytest.raises(ValueError, match=r"engine='vectorized' cannot train.*X is sparse"):
        BaggingClassifier(NeuralNetClassifier(), engine="vectorized").fit(X_sparse, y)
    # Members that take dense X only: scikit-learn's error, at the ensemble's input.
    with pytest.raises(TypeError, match=r"Sparse data was passed.*dense data is required"):
        BaggingClassifier(_FlatTree(), n_estimators=2).fit(X_sparse, y)


def test_routing_sample_weights_to_a_net_in_cross_validate(binary, tiny_net_params):
    from sklearn import config_context
    from sklearn.model_selection import KFold, cross_validate

    X, y = binary
    weight = np.where(y == 1, 3.0, 1.0)
    folds = list(KFold(3).split(X))
    with config_context(enable_metadata_routing=True):
        net = NeuralNetClassifier(random_state=0, **tiny_net_params)
        net.set_fit_request(sample_weight=True).set_score_request(sample_weight=False)
        routed = cross_validate(
            net, X, y, cv=folds, params={"sample_weight": weight}, return_estimator=True
        )
    for fitted, (train, _) in zip(routed["estimator"], folds, strict=True):
        by_hand = NeuralNetClassifier(random_state=0, **tiny_net_params)
        by_hand.fit(X[train], y[train], sample_weight=weight[train])
        np.testing.assert_array_equal(fitted.predict_proba(X), by_hand.predict_proba(X))


def test_member_nets_are_told_the_classes_inside_a_pipeline(rare_positive, tiny_net_params):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = rare_positive
    labels = np.array(["ok", "complaint"])[y]
    pipe = make_pipeline(StandardScaler(), NeuralNetClassifier(classes=["x"], **tiny_net_params))
    bag = BaggingClassifier(pipe, n_estimators=6, max_samples=0.05, random_state=0)
    assert bag.fit(X, labels).predict_proba(X).shape == (len(X), 2)
    assert all(list(m[-1].classes_) == [0, 1] for m in bag.estimators_)
    assert bag.estimator_[-1].classes == [0, 1]


def test_a_warm_start_on_other_rows_is_refused(binary):
    X, y = binary
    weight = np.ones(len(X))
    weight[:10] = 0.0
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=2, warm_start=True)
    bag.fit(X, y, sample_weight=weight).set_params(n_estimators=4)
    for args, kwargs in (((X, y), {}), ((X[:-1], y[:-1]), {"sample_weight": weight[:-1]})):
        with pytest.raises(ValueError, match="warm_start=True adds members drawn from the rows"):
            bag.fit(*args, **kwargs)
    assert len(bag.fit(X, y, sample_weight=weight)) == 4


def test_the_old_name_of_a_test_result_warns_and_pytest_collects_neither(tmp_path):
    import ensemblekit.model_selection as model_selection

    with pytest.warns(FutureWarning, match="renamed SignificanceResult"):
        assert model_selection.TestResult is model_selection.SignificanceResult
    # A user's test module that imports it, under either name: nothing to collect, no warning.
    module = tmp_path / "test_user.py"
    module.write_text(
        "from ensemblekit.model_selection import SignificanceResult\n"
        "from ensemblekit.model_selection import SignificanceResult as TestResult\n"
    )
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W", "error", "-q"]
    out = subprocess.run([*command, str(module)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, out.stdout + out.stderr


@pytest.mark.parametrize(
    ("make", "old"),
    [
        (lambda **kw: DeepEnsembleClassifier(TreeClassifier(), random_state=0, **kw), "n_members"),
        (
            lambda **kw: SnapshotEnsembleClassifier(
                NeuralNetClassifier(max_epochs=2, random_state=0), random_state=0, **kw
            ),
            "n_snapshots",
        ),
    ],
)
def test_every_ensemble_counts_members_with_n_estimators(make, old, binary):
    X, y = binary
    new = make(n_estimators=3).fit(X, y)
    with pytest.warns(FutureWarning, match=f"{old} was renamed n_estimators in 0.1") as record:
        former = make(**{old: 3}).fit(X, y)
    # The warning points at the user's line, not at a frame inside ensemblekit.
    assert {w.filename for w in record if w.category is FutureWarning} == {__file__}
    assert len(new) == len(former) == 3
    np.testing.assert_array_equal(new.predict_proba(X), former.predict_proba(X))
    assert clone(make(**{old: 3})).get_params()[old] == 3  # kept for clone and searches


def test_boosters_and_snapshot_ensembles_report_progress_with_verbose(binary, capsys):
    from ensemblekit.ensemble import AdaBoostClassifier, GradientBoostingClassifier

    X, y = binary
    AdaBoostClassifier(TreeClassifier(), n_estimators=2, verbose=1, random_state=0).fit(X, y)
    assert "AdaBoostClassifier: stage 1/2, weighted error" in capsys.readouterr().out
    GradientBoostingClassifier(
        TreeRegressor(), n_estimators=2, n_iter_no_change=5, verbose=1, random_state=0
    ).fit(X, y)
    out = capsys.readouterr().out
    assert "stage 2/2, training loss" in out and "validation loss" in out
    net = NeuralNetClassifier(max_epochs=2, random_state=0)
    SnapshotEnsembleClassifier(net, n_estimators=2, verbose=1).fit(X, y)
    assert "snapshot 2/2 taken at iteration" in capsys.readouterr().out
    AdaBoostClassifier(TreeClassifier(), n_estimators=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""  # silent by default


@pytest.mark.parametrize(
    "make",
    [
        lambda: BaggingClassifier(TreeClassifier()),
        lambda: AdaBoostClassifier(TreeClassifier()),
        lambda: GradientBoostingClassifier(TreeRegressor()),
        lambda: NeuralNetClassifier(max_epochs=1),
    ],
    ids=["bagging", "adaboost", "gradient-boosting", "net"],
)
def test_one_class_messages_show_the_label_as_written(make, binary):
    X, _ = binary
    with pytest.raises(ValueError, match=r"got 1 class \(0\)\.") as error:
        make().fit(X, np.zeros(len(X), dtype=np.int64))
    assert "np." not in str(error.value)
