"""bias_variance_decomp, bias_variance_curve and BiasVarianceDisplay: peers, hand cases, laws."""

import matplotlib
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris, make_classification, make_friedman1
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import BaggingRegressor
from ensemblekit.model_selection import (
    BiasVarianceDisplay,
    bias_variance_curve,
    bias_variance_decomp,
    decompose_log_loss,
    decompose_squared,
    decompose_zero_one,
)
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def iris_split():
    X, y = load_iris(return_X_y=True)
    return train_test_split(X, y, test_size=0.3, random_state=1, stratify=y)


@pytest.fixture(scope="module")
def friedman_split():
    X, y = make_friedman1(n_samples=300, noise=1.0, random_state=0)
    return X[:200], X[200:], y[:200], y[200:]


@pytest.fixture(scope="module")
def binary_split():
    X, y = make_classification(n_samples=300, n_features=8, flip_y=0.1, random_state=0)
    return X[:200], X[200:], y[:200], y[200:]


# ---------------------------------------------------------------- the peer: mlxtend
def test_zero_one_equals_mlxtend(iris_split):
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    X_tr, X_te, y_tr, y_te = iris_split
    tree = DecisionTreeClassifier(random_state=123)
    theirs = mlxtend.bias_variance_decomp(
        tree, X_tr, y_tr, X_te, y_te, loss="0-1_loss", num_rounds=50, random_seed=123
    )
    ours = bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, n_rounds=50, random_state=123)
    np.testing.assert_allclose(
        [ours.expected_loss, ours.bias, ours.variance], theirs, rtol=0, atol=1e-12
    )


def test_mse_equals_mlxtend(friedman_split):
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    X_tr, X_te, y_tr, y_te = friedman_split
    tree = DecisionTreeRegressor(random_state=123)
    theirs = mlxtend.bias_variance_decomp(
        tree, X_tr, y_tr, X_te, y_te, loss="mse", num_rounds=50, random_seed=123
    )
    ours = bias_variance_decomp(
        tree, X_tr, y_tr, X_te, y_te, loss="mse", n_rounds=50, random_state=123
    )
    np.testing.assert_allclose(
        [ours.expected_loss, ours.bias, ours.variance], theirs, rtol=0, atol=1e-12
    )


# ---------------------------------------------------------------- the identities
def test_identities_hold_exactly(iris_split, friedman_split, binary_split):
    X_tr, X_te, y_tr, y_te = friedman_split
    mse = bias_variance_decomp(
        DecisionTreeRegressor(), X_tr, y_tr, X_te, y_te, loss="mse", n_rounds=20, random_state=0
    )
    assert mse.expected_loss == pytest.approx(mse.bias + mse.variance, abs=1e-12)

    X_tr, X_te, y_tr, y_te = binary_split
    tree = DecisionTreeClassifier(max_depth=3)
    zo = bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, n_rounds=30, random_state=0)
    assert zo.expected_loss == pytest.approx(
        zo.bias + zo.variance_unbiased - zo.variance_biased, abs=1e-12
    )
    assert zo.net_variance == pytest.approx(zo.variance_unbiased - zo.variance_biased, abs=1e-12)
    assert zo.variance == pytest.approx(zo.variance_unbiased + zo.variance_biased, abs=1e-12)
    assert zo.expected_loss != pytest.approx(zo.bias + zo.variance)  # mlxtend#964's puzzle

    logistic = LogisticRegression(max_iter=500)
    log = bias_variance_decomp(
        logistic, X_tr, y_tr, X_te, y_te, loss="log_loss", n_rounds=20, random_state=0
    )
    assert log.expected_loss == pytest.approx(log.bias + log.variance, abs=1e-12)

    X_tr, X_te, y_tr, y_te = iris_split
    multi = bias_variance_decomp(
        DecisionTreeClassifier(max_depth=2), X_tr, y_tr, X_te, y_te, n_rounds=30, random_state=0
    )
    assert multi.expected_loss == pytest.approx(multi.bias + multi.net_variance, abs=1e-12)
    assert multi.expected_loss == pytest.approx(
        multi.bias + multi.variance_unbiased - multi.variance_biased_weighted, abs=1e-12
    )
    assert zo.variance_biased_weighted == pytest.approx(zo.variance_biased, abs=1e-12)

    X, y = load_digits(return_X_y=True)
    digits = bias_variance_decomp(
        DecisionTreeClassifier(max_depth=4), X[:1000], y[:1000], X[1000:1300], y[1000:1300],
        n_rounds=10, random_state=0,
    )  # fmt: skip
    # Ten classes: a round that leaves a wrong main prediction may pick another wrong label,
    # so the unweighted identity misses; the weighted one holds.
    assert digits.variance_biased_weighted < digits.variance_biased
    assert digits.expected_loss == pytest.approx(
        digits.bias + digits.variance_unbiased - digits.variance_biased_weighted, abs=1e-12
    )


# ---------------------------------------------------------------- by hand
def test_zero_one_by_hand():
    y = np.array([0, 1, 2])
    predictions = np.array(
        [
            [0, 1, 0],
            [0, 0, 1],
            [1, 1, 2],
            [1, 1, 1],
        ]
    )
    parts = decompose_zero_one(predictions, y)
    # Point 0: votes 0,0,1,1 -> tie -> smallest label 0 (right). Point 1: 1 (right).
    # Point 2: votes 0,1,2,1 -> 1 (wrong).
    np.testing.assert_array_equal(parts["main"], [0, 1, 1])
    np.testing.assert_allclose(parts["loss"], [2 / 4, 1 / 4, 3 / 4])
    np.testing.assert_allclose(parts["bias"], [0, 0, 1])
    np.testing.assert_allclose(parts["variance"], [2 / 4, 1 / 4, 2 / 4])
    np.testing.assert_allclose(parts["variance_biased"], [0, 0, 2 / 4])
    # Point 2: one round of the two that leave the main prediction hits y = 2.
    np.testing.assert_allclose(parts["net_variance"], [2 / 4, 1 / 4, -1 / 4])
    np.testing.assert_allclose(parts["variance_biased_weighted"], [0, 0, 1 / 4])
    np.testing.assert_allclose(parts["loss"], parts["bias"] + parts["net_variance"])


def test_squared_by_hand():
    parts = decompose_squared(np.array([[1.0, 2.0], [3.0, 2.0]]), np.array([1.0, 4.0]))
    np.testing.assert_allclose(parts["main"], [2.0, 2.0])
    np.testing.assert_allclose(parts["bias"], [1.0, 4.0])
    np.testing.assert_allclose(parts["variance"], [1.0, 0.0])
    np.testing.assert_allclose(parts["loss"], [2.0, 4.0])


def test_log_loss_by_hand():
    # Two rounds, one point of class 0: p1 = (0.8, 0.2), p2 = (0.5, 0.5).
    parts = decompose_log_loss(np.array([[[0.8, 0.2]], [[0.5, 0.5]]]), np.array([0]))
    geometric = np.sqrt([0.8 * 0.5, 0.2 * 0.5])
    main = geometric / geometric.sum()  # (2/3, 1/3)
    np.testing.assert_allclose(parts["main"][0], main)
    assert parts["bias"][0] == pytest.approx(-np.log(2 / 3))
    assert parts["loss"][0] == pytest.approx(-(np.log(0.8) + np.log(0.5)) / 2)
    kl = [np.sum(main * np.log(main / p)) for p in ([0.8, 0.2], [0.5, 0.5])]
    assert parts["variance"][0] == pytest.approx(np.mean(kl))


def test_log_loss_of_a_sure_wrong_round_is_scikit_learns():
    # A round that gives the true class probability 0 costs -log(eps), as log_loss clips.
    rounds = np.array([[[1.0, 0.0], [0.3, 0.7]], [[0.6, 0.4], [0.0, 1.0]]])
    parts = decompose_log_loss(rounds, np.array([1, 1]))
    expected = np.mean([log_loss([1, 1], r, labels=[0, 1]) for r in rounds])
    assert parts["loss"].mean() == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- behaviour
def test_never_fits_the_callers_estimator(iris_split):
    X_tr, X_te, y_tr, y_te = iris_split
    tree = DecisionTreeClassifier()
    bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, n_rounds=3, random_state=0)
    assert not hasattr(tree, "tree_") and tree.random_state is None


def test_predictions_and_per_point_arrays(iris_split):
    X_tr, X_te, y_tr, y_te = iris_split
    r = bias_variance_decomp(
        DecisionTreeClassifier(), X_tr, y_tr, X_te, y_te, n_rounds=5, random_state=0,
        return_predictions=True,
    )  # fmt: skip
    assert r.predictions.shape == (5, len(X_te))
    assert r.bias_per_point.shape == r.variance_per_point.shape == (len(X_te),)
    assert r.expected_loss == pytest.approx(r.expected_loss_per_point.mean())
    text = repr(r)
    assert text.startswith("BiasVarianceResult(loss='0-1', expected_loss=") and "n_rounds=5" in text


@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
def test_nets_in_parallel_are_deterministic_and_seeded_per_round(binary_split, engine):
    X_tr, X_te, y_tr, y_te = binary_split
    net = NeuralNetClassifier(module__hidden_units=(8,), max_epochs=3, lr=1e-2)
    kw = {
        "loss": "log_loss", "n_rounds": 4, "random_state": 0, "return_predictions": True,
        "engine": engine,
    }  # fmt: skip
    one = bias_variance_decomp(net, X_tr, y_tr, X_te, y_te, **kw)
    two = bias_variance_decomp(net, X_tr, y_tr, X_te, y_te, n_jobs=2, **kw)
    np.testing.assert_array_equal(one.predictions, two.predictions)
    assert one.expected_loss == pytest.approx(one.bias + one.variance, abs=1e-12)


def test_a_seeded_learner_varies_only_by_its_data(iris_split):
    X_tr, X_te, y_tr, y_te = iris_split
    tree = DecisionTreeClassifier(max_features=1, random_state=5)
    r = bias_variance_decomp(
        tree, X_tr, y_tr, X_te, y_te, n_rounds=3, sampling="subsample", train_size=1.0,
        random_state=0, return_predictions=True,
    )  # fmt: skip
    # Same rows every round (all of them), same seed: identical rounds, no variance.
    assert r.variance == 0.0
    unseeded = bias_variance_decomp(
        DecisionTreeClassifier(max_features=1), X_tr, y_tr, X_te, y_te, n_rounds=6,
        sampling="subsample", train_size=1.0, random_state=0,
    )  # fmt: skip
    assert unseeded.variance > 0


def test_callable_sampling_draws_fresh_data_each_round():
    def generator(rng):
        X = rng.uniform(-1, 1, size=(40, 1))
        return X, 2 * X[:, 0] + rng.normal(scale=0.5, size=40)

    X_test = np.linspace(-1, 1, 25)[:, None]
    y_test = 2 * X_test[:, 0]
    r = bias_variance_decomp(
        LinearRegression(), X_test, y_test, X_test, y_test, loss="mse", n_rounds=200,
        sampling=generator, random_state=0,
    )  # fmt: skip
    # Linear truth, noise-free test labels: no bias beyond estimation error; the variance of
    # OLS at x is sigma^2 (1/n + x^2 / sum x_i^2), about 0.25 * (1/40 + 1/40) on average.
    assert r.bias < 0.005
    assert 0.005 < r.variance < 0.03
    again = bias_variance_decomp(
        LinearRegression(), X_test, y_test, X_test, y_test, loss="mse", n_rounds=200,
        sampling=generator, random_state=0,
    )  # fmt: skip
    assert again.variance == r.variance


def test_bagging_cuts_variance(friedman_split):
    X_tr, X_te, y_tr, y_te = friedman_split
    kw = {"loss": "mse", "n_rounds": 15, "random_state": 0}
    tree = bias_variance_decomp(DecisionTreeRegressor(), X_tr, y_tr, X_te, y_te, **kw)
    bag = BaggingRegressor(DecisionTreeRegressor(), n_estimators=15)
    bagged = bias_variance_decomp(bag, X_tr, y_tr, X_te, y_te, **kw)
    assert bagged.variance < 0.6 * tree.variance


# ---------------------------------------------------------------- curve and display
def test_curve_moves_bias_down_and_variance_up(friedman_split):
    X_tr, X_te, y_tr, y_te = friedman_split
    curve = bias_variance_curve(
        DecisionTreeRegressor(random_state=0), X_tr, y_tr, X_te, y_te,
        param_name="max_depth", param_range=[1, 3, 10], loss="mse", n_rounds=10, random_state=0,
    )  # fmt: skip
    assert [r.params for r in curve] == [{"max_depth": d} for d in (1, 3, 10)]
    assert curve[0].bias > curve[-1].bias
    assert curve[0].variance < curve[-1].variance


def test_display_from_result_and_from_estimator(binary_split):
    X_tr, X_te, y_tr, y_te = binary_split
    net = NeuralNetClassifier(max_epochs=2, lr=1e-2)
    display = BiasVarianceDisplay.from_estimator(
        net, X_tr, y_tr, X_te, y_te, param_name="module__hidden_units",
        param_range=[(2,), (16,)], n_rounds=3, random_state=0,
    )  # fmt: skip
    assert display.param_values == [(2,), (16,)]
    assert [t.get_text() for t in display.ax_.get_xticklabels()] == ["(2,)", "(16,)"]
    np.testing.assert_allclose(display.lines_["bias"].get_ydata(), display.bias)
    assert (display.ax_.get_xlabel(), display.ax_.get_ylabel()) == (
        "hidden units", "0-1 loss (error rate)",
    )  # fmt: skip
    with pytest.raises(ValueError, match="results is empty"):
        BiasVarianceDisplay.from_result([])


def test_the_drawn_terms_add_up_to_the_loss(iris_split):
    X_tr, X_te, y_tr, y_te = iris_split
    curve = bias_variance_curve(
        DecisionTreeClassifier(), X_tr, y_tr, X_te, y_te, param_name="max_depth",
        param_range=[1, 2, 6], n_rounds=20, random_state=0,
    )  # fmt: skip
    display = BiasVarianceDisplay.from_result(curve, split_variance=True)
    y_of = {key: line.get_ydata() for key, line in display.lines_.items()}
    np.testing.assert_allclose(y_of["bias"] + y_of["variance"], y_of["expected loss"], atol=1e-12)
    np.testing.assert_allclose(
        y_of["variance unbiased"] - y_of["variance biased"], y_of["variance"], atol=1e-12
    )
    assert display.lines_["variance"].get_label() == "net variance"
    assert (
        display.ax_.get_legend()
        .get_title()
        .get_text()
        .startswith("expected loss = bias + net variance")
    )
    with pytest.raises(ValueError, match="split_variance=True needs a 0-1 loss"):
        BiasVarianceDisplay(
            param_name="depth", param_values=[1], expected_loss=[1], bias=[1], variance=[0],
            loss="mse",
        ).plot(split_variance=True)  # fmt: skip


def test_results_compare_with_equals(iris_split):
    X_tr, X_te, y_tr, y_te = iris_split
    tree = DecisionTreeClassifier(max_depth=2)

    def run(seed, **kw):
        return bias_variance_decomp(
            tree, X_tr, y_tr, X_te, y_te, n_rounds=5, random_state=seed, **kw
        )

    a, b, c = run(0), run(0), run(1)
    assert a == b and a != c and a.allclose(b) and not a.allclose(c)
    with_predictions = run(0, return_predictions=True)
    assert with_predictions != a and with_predictions == run(0, return_predictions=True)
    with pytest.raises(TypeError, match="compares two BiasVarianceResult"):
        a.allclose(1.0)


# ---------------------------------------------------------------- errors
def test_errors_say_what_to_change(iris_split, friedman_split):
    X_tr, X_te, y_tr, y_te = iris_split
    tree = DecisionTreeClassifier()
    with pytest.raises(ValueError, match="labels \\[2\\] that y_train never shows"):
        bias_variance_decomp(tree, X_tr[y_tr < 2], y_tr[y_tr < 2], X_te, y_te, n_rounds=2)
    with pytest.raises(ValueError, match="needs predict_proba"):
        bias_variance_decomp(LinearSVC(), X_tr, y_tr, X_te, y_te, loss="log_loss", n_rounds=2)
    with pytest.raises(ValueError, match="n_rounds must be at least 2"):
        bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, n_rounds=1)
    with pytest.raises(ValueError, match="loss='mse' needs a regressor"):
        bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, loss="mse", n_rounds=2)
    with pytest.raises(ValueError, match="sampling must be"):
        bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, sampling="jackknife", n_rounds=2)
    with pytest.raises(ValueError, match="train_size"):
        bias_variance_decomp(tree, X_tr, y_tr, X_te, y_te, train_size=10_000, n_rounds=2)
    X_tr, X_te, y_tr, y_te = friedman_split
    with pytest.raises(ValueError, match="needs a classifier; for a regressor use loss='mse'"):
        bias_variance_decomp(DecisionTreeRegressor(), X_tr, y_tr, X_te, y_te, n_rounds=2)
