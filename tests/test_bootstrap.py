"""bootstrap_score and bootstrap_ci against hand-worked cases, explicit loops and scipy."""

import numpy as np
import pytest
import scipy.stats
from sklearn.dummy import DummyRegressor
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.svm import LinearSVC

from ensemblekit.model_selection import (
    bootstrap_ci,
    bootstrap_score,
    efron_estimate,
    leave_one_out_bootstrap_error,
)
from ensemblekit.model_selection._bootstrap import _LOSSES, _abs_pairs

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

nan = np.nan


# ---------------------------------------------------------------- the formulas, by hand
def test_leave_one_out_bootstrap_error_by_hand():
    # 3 rounds x 4 rows; NaN = the row was in that round's bag.
    losses = np.array(
        [
            [1.0, nan, 0.0, nan],
            [nan, nan, 1.0, nan],
            [0.0, nan, 1.0, nan],
        ]
    )
    # Row 0: mean(1, 0) = 0.5; row 2: mean(0, 1, 1) = 2/3; rows 1 and 3 never left out.
    assert leave_one_out_bootstrap_error(losses) == pytest.approx((0.5 + 2 / 3) / 2)


def test_efron_632_by_hand():
    assert efron_estimate(".632", 0.1, 0.3, 0.5) == pytest.approx(0.368 * 0.1 + 0.632 * 0.3)
    assert efron_estimate("oob", 0.1, 0.3, 0.5) == 0.3


def test_efron_632_plus_by_hand():
    # R = (0.3 - 0.1) / (0.5 - 0.1) = 0.5; w = 0.632 / (1 - 0.184) = 0.774509...
    w = 0.632 / 0.816
    assert efron_estimate(".632+", 0.1, 0.3, 0.5) == pytest.approx((1 - w) * 0.1 + w * 0.3)
    # Out-of-bag error above the no-information rate: capped, R = 1, w = 1 -> gamma.
    assert efron_estimate(".632+", 0.1, 0.7, 0.5) == pytest.approx(0.5)
    # No overfitting (oob below train): R = 0, w = .632, the plain .632 rule.
    assert efron_estimate(".632+", 0.3, 0.2, 0.5) == pytest.approx(
        efron_estimate(".632", 0.3, 0.2, 0.5)
    )


def test_no_information_rates():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 1, 1, 1])
    # p = (0.75, 0.25), q = (0.25, 0.75): gamma = 0.75 * (1 - 0.25) + 0.25 * (1 - 0.75)
    assert _LOSSES["accuracy"].no_information(y, pred, None) == pytest.approx(0.625)
    yr = np.array([1.0, 2.0, 4.0])
    fr = np.array([0.0, 3.0])
    brute_sq = np.mean((yr[:, None] - fr[None, :]) ** 2)
    assert _LOSSES["neg_mean_squared_error"].no_information(yr, fr, None) == pytest.approx(brute_sq)
    rng = np.random.RandomState(0)
    a, b = rng.randn(50), rng.randn(40)
    assert _abs_pairs(a, b) == pytest.approx(np.mean(np.abs(a[:, None] - b[None, :])))
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    yl = np.array([0, 1, 1])
    brute_log = np.mean([-np.log(proba[j, c]) for c in yl for j in range(2)])
    got = _LOSSES["neg_log_loss"].no_information(yl, proba, np.array([0, 1]))
    assert got == pytest.approx(brute_log)


# ---------------------------------------------------------------- the whole estimate, by a loop
def test_bootstrap_score_equals_an_explicit_loop(binary):
    X, y = binary
    n, rounds = len(X), 30
    result = bootstrap_score(
        KNeighborsClassifier(3), X, y, method=".632+", n_rounds=rounds, random_state=0
    )
    rng = np.random.RandomState(0)
    per_row = [[] for _ in range(n)]
    for _ in range(rounds):
        rows = rng.choice(n, n, replace=True)
        out = np.setdiff1d(np.arange(n), rows)
        pred = KNeighborsClassifier(3).fit(X[rows], y[rows]).predict(X[out])
        for i, p in zip(out, pred, strict=True):
            per_row[i].append(float(p != y[i]))
    err_oob = np.mean([np.mean(r) for r in per_row if r])
    full = KNeighborsClassifier(3).fit(X, y).predict(X)
    err_train = np.mean(full != y)
    p1, q1 = np.mean(y == 1), np.mean(full == 1)
    gamma = p1 * (1 - q1) + (1 - p1) * q1
    assert result.oob_score == pytest.approx(1 - err_oob, abs=1e-12)
    assert result.train_score == pytest.approx(1 - err_train, abs=1e-12)
    assert result.no_information_score == pytest.approx(1 - gamma, abs=1e-12)
    expected = 1 - efron_estimate(".632+", err_train, err_oob, gamma)
    assert result.estimate == pytest.approx(expected, abs=1e-12)
    assert result.scores.shape == (rounds,)
    assert result.train_score >= result.estimate >= result.oob_score


def test_methods_order_and_regression(regression):
    X, y = regression
    results = {
        m: bootstrap_score(KNeighborsRegressor(), X, y, method=m, n_rounds=20, random_state=0)
        for m in ("oob", ".632", ".632+")
    }
    assert results["oob"].scoring == "neg_mean_squared_error"
    # Scores are negated losses: the pessimistic OOB is lowest, the apparent one highest.
    assert results["oob"].estimate <= results[".632+"].estimate <= results[".632"].estimate
    assert results[".632"].estimate <= results["oob"].train_score
    # A constant model is a no-information model: gamma equals its apparent error, the OOB
    # error is capped at gamma, and .632+ returns gamma where .632 still adds 0.632 * gap.
    dummy = bootstrap_score(DummyRegressor(), X, y, method=".632+", n_rounds=20, random_state=0)
    assert dummy.no_information_score == pytest.approx(dummy.train_score)
    assert dummy.estimate == pytest.approx(dummy.train_score)
    assert dummy.oob_score < dummy.estimate


def test_bootstrap_score_with_nets_and_log_loss_is_parallel_and_deterministic(digits):
    from ensemblekit.nets import NeuralNetClassifier

    X, y = digits
    net = NeuralNetClassifier(module__hidden_units=(16,), max_epochs=3, lr=1e-2)
    one = bootstrap_score(net, X, y, scoring="neg_log_loss", n_rounds=4, random_state=0)
    two = bootstrap_score(net, X, y, scoring="neg_log_loss", n_rounds=4, random_state=0, n_jobs=2)
    assert one.estimate == two.estimate
    np.testing.assert_array_equal(one.scores, two.scores)
    assert one.estimate < 0


def test_bootstrap_score_errors(binary):
    X, y = binary
    with pytest.raises(ValueError, match="method must be one of"):
        bootstrap_score(KNeighborsClassifier(), X, y, method="632")
    with pytest.raises(ValueError, match="n_rounds must be at least 2"):
        bootstrap_score(KNeighborsClassifier(), X, y, n_rounds=1)
    with pytest.raises(ValueError, match="score defined per point"):
        bootstrap_score(KNeighborsClassifier(), X, y, scoring="roc_auc")
    with pytest.raises(ValueError, match="needs an estimator with predict_proba"):
        bootstrap_score(LinearSVC(), X, y, scoring="neg_log_loss")


def test_repr_is_readable(binary):
    X, y = binary
    text = repr(bootstrap_score(KNeighborsClassifier(), X, y, n_rounds=3, random_state=0))
    assert text.startswith("BootstrapScoreResult(estimate=") and "method='.632+'" in text


# ---------------------------------------------------------------- bootstrap_ci against scipy
@pytest.mark.parametrize(("method", "scipy_method"), [("percentile", "percentile"), ("bca", "BCa")])
def test_bootstrap_ci_equals_scipy(method, scipy_method):
    rng = np.random.RandomState(0)
    y_true = rng.randint(0, 2, 120)
    score = y_true + rng.randn(120)
    ci = bootstrap_ci(y_true, score, roc_auc_score, method=method, n_resamples=500, random_state=1)
    ref = scipy.stats.bootstrap(
        (np.arange(120),),
        lambda r: roc_auc_score(y_true[r], score[r]),
        vectorized=False,
        n_resamples=500,
        method=scipy_method,
        rng=1,
    )
    assert ci.low == pytest.approx(ref.confidence_interval.low)
    assert ci.high == pytest.approx(ref.confidence_interval.high)
    assert ci.low < ci.estimate < ci.high
    assert ci.estimate == roc_auc_score(y_true, score)


def test_bootstrap_ci_takes_probability_matrices_and_checks_input():
    y = np.array([0, 1, 2] * 20)
    proba = np.eye(3)[y] * 0.7 + 0.1
    ci = bootstrap_ci(y, proba, lambda t, p: accuracy_score(t, p.argmax(1)), n_resamples=99)
    assert ci.estimate == 1.0
    with pytest.raises(ValueError, match="method must be"):
        bootstrap_ci(y, y, accuracy_score, method="basic")
    with pytest.raises(ValueError, match="confidence_level"):
        bootstrap_ci(y, y, accuracy_score, confidence_level=95)
