"""predictive_uncertainty and diversity_decomp: hand-worked rows, identities, real ensembles."""

import matplotlib
import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_iris, make_friedman1
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    BaggingClassifier,
    BaggingRegressor,
    DeepEnsembleRegressor,
)
from ensemblekit.model_selection import (
    diversity_decomp,
    ensemble_size_curve,
    predictive_uncertainty,
)
from ensemblekit.model_selection._diversity import decompose_diversity
from ensemblekit.model_selection._uncertainty import entropy
from ensemblekit.nets import NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def iris_bag():
    X, y = load_iris(return_X_y=True)
    bag = BaggingClassifier(
        DecisionTreeClassifier(max_depth=3), n_estimators=7, max_features=0.75, random_state=0
    )
    return bag.fit(X[::2], y[::2]), X[1::2], y[1::2]


@pytest.fixture(scope="module")
def friedman_bag():
    X, y = make_friedman1(n_samples=300, random_state=0)
    bag = BaggingRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=6, random_state=0)
    return bag.fit(X[:200], y[:200]), X[200:], y[200:]


# ---------------------------------------------------------------- uncertainty
def test_entropy_and_the_split_by_hand():
    assert entropy(np.array([0.5, 0.5])) == pytest.approx(np.log(2))
    assert entropy(np.array([1.0, 0.0])) == 0.0  # 0 log 0 = 0
    # Two confident members that disagree: all epistemic. Two that both hesitate: all
    # aleatoric.
    members = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.0, 1.0], [0.5, 0.5]]])
    total = entropy(members.mean(axis=0))
    aleatoric = entropy(members).mean(axis=0)
    np.testing.assert_allclose(total - aleatoric, [np.log(2), 0.0])
    np.testing.assert_allclose(aleatoric, [0.0, np.log(2)])


def test_classifier_uncertainty_from_the_members(iris_bag):
    bag, X, _ = iris_bag
    u = predictive_uncertainty(bag, X)
    members = np.stack(
        [m.predict_proba(X[:, f]) for m, f in zip(bag, bag.estimators_features_, strict=True)]
    )
    np.testing.assert_allclose(u.prediction, bag.predict_proba(X))
    np.testing.assert_allclose(u.total, stats.entropy(members.mean(axis=0), axis=1))
    np.testing.assert_allclose(u.aleatoric, stats.entropy(members, axis=2).mean(axis=0))
    np.testing.assert_allclose(u.total, u.aleatoric + u.epistemic, atol=1e-12)
    assert (u.epistemic >= 0).all() and u.n_members == 7
    assert "PredictiveUncertainty(n_rows=75, n_members=7, mean total=" in repr(u)
    assert u == predictive_uncertainty(bag, X)


def test_regressor_uncertainty_is_the_members_spread():
    X, y = make_friedman1(n_samples=120, random_state=0)
    net = NeuralNetRegressor(max_epochs=3, module__hidden_units=(8,))
    ensemble = DeepEnsembleRegressor(net, n_estimators=3, random_state=0).fit(X, y / 10)
    mean, std = ensemble.predict(X, return_std=True)
    u = predictive_uncertainty(ensemble, X)
    np.testing.assert_allclose(u.epistemic, std**2, rtol=1e-5)
    np.testing.assert_allclose(u.prediction, mean)
    assert u.aleatoric is None and u.total is u.epistemic
    pipeline = make_pipeline(StandardScaler(), clone(ensemble)).fit(X, y / 10)
    _, std = pipeline[-1].predict(pipeline[0].transform(X), return_std=True)
    np.testing.assert_allclose(predictive_uncertainty(pipeline, X).epistemic, std**2, rtol=1e-5)


def test_uncertainty_refuses_what_is_not_an_equal_vote(iris_bag):
    _, X, y = iris_bag
    boosted = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=3)
    with pytest.raises(TypeError, match="AdaBoostClassifier is not an ensemble whose members"):
        predictive_uncertainty(boosted.fit(X, y), X)


# ---------------------------------------------------------------- diversity by hand
def test_diversity_by_hand():
    # Squared: members 1 and 3, y = 0: (0 - 2)^2 = 4 = (1 + 9) / 2 - ((1-2)^2 + (3-2)^2) / 2.
    parts = decompose_diversity(np.array([[1.0], [3.0]]), np.array([0.0]), "mse")
    assert (parts["ensemble"][0], parts["member"].mean(), parts["diversity"][0]) == (4, 5, 1)
    # Log loss: members (.8, .2) and (.2, .8); the geometric centroid is (.5, .5) with
    # Z = 2 sqrt(.16) = .8, so the diversity is -log .8.
    proba = np.array([[[0.8, 0.2]], [[0.2, 0.8]]])
    parts = decompose_diversity(proba, np.array([0]), "log_loss")
    assert parts["ensemble"][0] == pytest.approx(np.log(2))
    assert parts["member"].mean() == pytest.approx(-(np.log(0.8) + np.log(0.2)) / 2)
    assert parts["diversity"][0] == pytest.approx(-np.log(0.8))
    # A member sure of the wrong class costs what scikit-learn's log_loss says it does
    # (clipped at float64's eps: -log(2.2e-16) = 36.04 nats), not a floor of our own.
    sure = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.5, 0.5], [0.9, 0.1]]])
    parts = decompose_diversity(sure, np.array([1, 0]), "log_loss")
    for member, proba in zip(parts["member"], sure, strict=True):
        assert member.mean() == pytest.approx(log_loss([1, 0], proba, labels=[0, 1]), rel=1e-12)
    assert parts["member"][0, 0] == pytest.approx(-np.log(np.finfo(float).eps))
    # 0-1: votes 0, 0, 1. With y = 0 the vote is right and one member disagrees (good);
    # with y = 1 it is wrong and one member was right (bad).
    # Third row, votes 0, 2, 2 with y = 1: the vote is wrong and so is every member; the
    # member that leaves the vote picks another wrong label, which is no loss to the vote.
    labels = np.array([[0, 0, 0], [0, 0, 2], [1, 1, 2]])
    parts = decompose_diversity(labels, np.array([0, 1, 1]), "0-1")
    np.testing.assert_allclose(parts["ensemble"], [0, 1, 1])
    np.testing.assert_allclose(parts["member"].mean(axis=0), [1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(parts["good"], [1 / 3, 0, 0])
    np.testing.assert_allclose(parts["bad"], [0, 1 / 3, 0])
    np.testing.assert_allclose(
        parts["ensemble"], parts["member"].mean(axis=0) - parts["diversity"], atol=1e-15
    )


@pytest.mark.parametrize("loss", ["log_loss", "0-1"])
def test_the_identity_holds_exactly_for_a_classifier(iris_bag, loss):
    bag, X, y = iris_bag
    r = diversity_decomp(bag, X, y, loss=loss)
    assert r.ensemble_loss == pytest.approx(r.average_member_loss - r.diversity, abs=1e-12)
    members = [m.predict(X[:, f]) for m, f in zip(bag, bag.estimators_features_, strict=True)]
    if loss == "0-1":
        np.testing.assert_allclose(r.member_losses, [np.mean(p != y) for p in members])
        assert r.diversity == pytest.approx(r.good_diversity - r.bad_diversity, abs=1e-12)
    else:
        assert r.diversity >= 0 and "normalised geometric mean" in r.combiner


def test_the_identity_holds_exactly_for_a_regressor(friedman_bag):
    bag, X, y = friedman_bag
    r = diversity_decomp(bag, X, y)
    assert r.loss == "mse"
    assert r.ensemble_loss == pytest.approx(np.mean((bag.predict(X) - y) ** 2))
    assert r.ensemble_loss == pytest.approx(r.average_member_loss - r.diversity, abs=1e-9)
    np.testing.assert_allclose(r.diversity_per_point, predictive_uncertainty(bag, X).epistemic)


def test_diversity_result_compares_prints_and_plots(iris_bag):
    bag, X, y = iris_bag
    r = diversity_decomp(bag, X, y, loss="0-1")
    assert r == diversity_decomp(bag, X, y, loss="0-1")
    assert r != diversity_decomp(bag, X, y)
    assert repr(r).startswith("DiversityResult(loss='0-1', ensemble_loss=")
    ax = r.plot()
    assert ax.get_ylabel() == "0-1 loss (error rate)"
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.sort(r.member_losses))
    # The legend sits beside the axes, so it covers no member's point.
    ax.figure.canvas.draw()
    legend, frame = ax.get_legend().get_window_extent(), ax.get_window_extent()
    assert legend.x0 >= frame.x1
    with pytest.raises(ValueError, match="loss='mse' does not suit a classifier"):
        diversity_decomp(bag, X, y, loss="mse")
    with pytest.raises(ValueError, match=r"labels \[7\] the ensemble never saw"):
        diversity_decomp(bag, X, np.full(len(X), 7))


# ---------------------------------------------------------------- ensemble size curve
def test_size_curve_ends_at_the_ensemble_and_starts_at_a_member(iris_bag):
    from sklearn.metrics import log_loss

    bag, X, y = iris_bag
    curve = ensemble_size_curve(bag, X, y, scoring="neg_log_loss", random_state=0)
    np.testing.assert_array_equal(curve.sizes, np.arange(1, 8))
    full = -log_loss(y, bag.predict_proba(X), labels=bag.classes_)
    np.testing.assert_allclose(curve.scores[:, -1], full)  # every ordering ends at all members
    assert curve.std[-1] == pytest.approx(0.0, abs=1e-12)
    probas = [m.predict_proba(X[:, f]) for m, f in zip(bag, bag.estimators_features_, strict=True)]
    first = -log_loss(y, probas[0], labels=bag.classes_)
    pair = -log_loss(y, (probas[0] + probas[1]) / 2, labels=bag.classes_)
    assert (curve.scores[0, 0], curve.scores[0, 1]) == pytest.approx((first, pair))
    assert curve == ensemble_size_curve(bag, X, y, scoring="neg_log_loss", random_state=0)
    assert curve.mean[-1] > curve.mean[0]  # averaging trees helps their log loss


def test_size_curve_for_regressors_pipelines_and_our_scorers(friedman_bag, iris_bag):
    from ensemblekit.metrics import scorers

    bag, X, y = friedman_bag
    curve = ensemble_size_curve(bag, X, y, n_orderings=3, random_state=0)
    assert curve.scoring == "R²" and curve.scores[0, -1] == pytest.approx(bag.score(X, y))
    tree_bag, X, y = iris_bag
    pipeline = make_pipeline(StandardScaler(), clone(tree_bag)).fit(X, y)
    ece = ensemble_size_curve(
        pipeline, X, y, scoring=scorers["neg_expected_calibration_error"], n_orderings=2
    )
    assert ece.scoring == "neg_expected_calibration_error" and (ece.scores <= 0).all()
    with pytest.raises(ValueError, match="n_orderings must be an int >= 1"):
        ensemble_size_curve(tree_bag, X, y, n_orderings=0)
    with pytest.raises(ValueError, match="neg_log_los"):
        ensemble_size_curve(tree_bag, X, y, scoring="neg_log_los")


def test_size_display_draws_the_mean_and_its_band(iris_bag):
    from ensemblekit.model_selection import EnsembleSizeDisplay

    bag, X, y = iris_bag
    display = EnsembleSizeDisplay.from_estimator(bag, X, y, n_orderings=4, label="bagged trees")
    np.testing.assert_allclose(display.line_.get_ydata(), display.curve.mean)
    assert display.ax_.get_xlabel() == "members in the ensemble"
    assert "accuracy (mean over 4 orderings" in display.ax_.get_ylabel()
    assert len(display.ax_.collections) == 1  # the band


def test_out_of_bag_size_curve_ends_at_the_oob_score():
    X, y = load_iris(return_X_y=True)
    bag = BaggingClassifier(
        DecisionTreeClassifier(max_depth=3), n_estimators=25, oob_score=True, random_state=0
    ).fit(X, y)
    curve = ensemble_size_curve(bag, X, y, oob=True, n_orderings=3, random_state=0)
    np.testing.assert_allclose(curve.scores[:, -1], bag.oob_score_)
    # One member: its own out-of-bag accuracy.
    left_out = np.ones(len(X), dtype=bool)
    left_out[bag.estimators_samples_[0]] = False
    first = bag[0].predict(X[left_out][:, bag.estimators_features_[0]])
    assert curve.scores[0, 0] == pytest.approx(np.mean(first == y[left_out]))
    deep = DeepEnsembleRegressor(NeuralNetRegressor(max_epochs=1), n_estimators=2).fit(X, y)
    with pytest.raises(ValueError, match="oob=True needs a bagging ensemble"):
        ensemble_size_curve(deep, X, y, oob=True)
    with pytest.raises(ValueError, match="the rows the ensemble was fitted on"):
        ensemble_size_curve(bag, X[:50], y[:50], oob=True)


# ---------------------------------------------------------------- bias, variance, diversity
@pytest.mark.parametrize("loss", ["mse", "log_loss"])
def test_bias_variance_diversity_adds_up_over_training_sets(loss):
    from ensemblekit.model_selection import bias_variance_diversity_decomp

    if loss == "mse":
        X, y = make_friedman1(n_samples=240, noise=1.0, random_state=0)
        ensemble = BaggingRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=4)
    else:
        X, y = load_iris(return_X_y=True)
        ensemble = BaggingClassifier(DecisionTreeClassifier(max_depth=2), n_estimators=4)
    r = bias_variance_diversity_decomp(
        ensemble.set_params(random_state=0), X[::2], y[::2], X[1::2], y[1::2],
        loss=loss, n_rounds=4, random_state=0,
    )  # fmt: skip
    assert r.expected_loss == pytest.approx(
        r.average_bias + r.average_variance - r.diversity, abs=1e-9
    )
    assert r.diversity > 0 and r.average_variance > 0 and (r.n_rounds, r.n_members) == (4, 4)
    assert repr(r).startswith(f"BiasVarianceDiversityResult(loss={loss!r}")
    with pytest.raises(ValueError, match="0-1 loss has no such form"):
        bias_variance_diversity_decomp(ensemble, X, y, X, y, loss="0-1")
