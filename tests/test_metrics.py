"""Calibration and probabilistic metrics: hand-worked cases, peers, and their scorers."""

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate

from ensemblekit.metrics import (
    expected_calibration_error,
    gaussian_nll,
    multiclass_brier_score,
    scorers,
)
from ensemblekit.model_selection import compare_models

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def random_proba():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(4) * 0.7, size=300)
    y = np.array([rng.choice(4, p=p) for p in proba])  # calibrated by construction
    return y, proba


# ---------------------------------------------------------------- ECE by hand
def test_ece_by_hand_with_rows_on_bin_edges():
    # Confidences 0.6 | 0.8 0.8 | 1.0 with 5 bins (0, .2], ..., (.8, 1]: an edge belongs to
    # the bin it closes, as in Guo et al.'s ((m-1)/M, m/M].
    y = [0, 1, 0, 1]
    proba = [[0.6, 0.4], [0.2, 0.8], [0.2, 0.8], [0.0, 1.0]]
    # bin (.4, .6]: one right at 0.6 -> |1 - .6|; bin (.6, .8]: one right, one wrong at
    # 0.8 -> |1 - 1.6|; bin (.8, 1]: one right at 1.0 -> 0.
    assert expected_calibration_error(y, proba, n_bins=5) == pytest.approx((0.4 + 0.6) / 4)
    perfect = expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]])
    assert perfect == 0.0
    assert expected_calibration_error([1, 1], [[1.0, 0.0], [1.0, 0.0]], labels=[0, 1]) == 1.0


def test_classwise_and_quantile_ece_by_hand():
    y = [0, 1, 2, 2]
    proba = [[0.7, 0.2, 0.1], [0.1, 0.7, 0.2], [0.1, 0.2, 0.7], [0.5, 0.1, 0.4]]
    # 2 bins (0, .5], (.5, 1] for each class's column:
    # class 0: p = .7 .1 .1 .5 -> high bin {.7: hit}: |1 - .7|; low {.1, .1, .5}: |0 - .7|
    # class 1: p = .2 .7 .2 .1 -> high {.7 hit}: .3; low {.2, .2, .1}: |0 - .5|
    # class 2: p = .1 .2 .7 .4 -> high {.7 hit}: .3; low {.1, .2, .4 (hit)}: |1 - .7|
    expected = np.mean([(0.3 + 0.7) / 4, (0.3 + 0.5) / 4, (0.3 + 0.3) / 4])
    got = expected_calibration_error(y, proba, n_bins=2, method="classwise")
    assert got == pytest.approx(expected)
    # Equal mass, 2 bins over confidences .7 .7 .7 .5: the median .7 closes the first bin,
    # which then holds all four rows: |3 hits - 2.6| / 4.
    assert expected_calibration_error(y, proba, n_bins=2, strategy="quantile") == pytest.approx(0.1)


def test_ece_weights_labels_and_a_binary_column(random_proba):
    y, proba = random_proba
    twice = np.r_[y, y], np.r_[proba, proba]
    weighted = expected_calibration_error(y, proba, sample_weight=np.full(len(y), 2.0))
    assert weighted == pytest.approx(expected_calibration_error(*twice))
    letters = np.array(list("abcd"))[y]
    assert expected_calibration_error(letters, proba) == expected_calibration_error(y, proba)
    # A fold without class "d": labels says which column is which.
    some = y != 3
    with pytest.raises(ValueError, match="pass labels="):
        expected_calibration_error(letters[some], proba[some])
    # Integer labels 0..K-1 index the columns, whichever of them a fold shows.
    assert expected_calibration_error(y[some], proba[some]) == expected_calibration_error(
        letters[some], proba[some], labels=list("abcd")
    )
    expected_calibration_error(letters[some], proba[some], labels=list("abcd"))
    binary = np.column_stack([1 - proba[:, 0], proba[:, 0]])
    y01 = (y == 0).astype(int)
    assert expected_calibration_error(y01, binary[:, 1]) == expected_calibration_error(y01, binary)


def test_ece_equals_torchmetrics(random_proba):
    torch = pytest.importorskip("torch")
    classification = pytest.importorskip("torchmetrics.classification")
    y, proba = random_proba
    for n_bins in (5, 15):
        theirs = classification.MulticlassCalibrationError(num_classes=4, n_bins=n_bins)(
            torch.tensor(proba), torch.tensor(y)
        )
        ours = expected_calibration_error(y, proba, n_bins=n_bins)
        assert ours == pytest.approx(float(theirs), abs=1e-6)  # float32 there


def test_a_calibrated_predictor_has_a_small_ece_and_a_confident_wrong_one_a_large_one(
    random_proba,
):
    y, proba = random_proba
    assert expected_calibration_error(y, proba, n_bins=10) < 0.1
    sharpened = proba**4 / (proba**4).sum(axis=1, keepdims=True)  # overconfident
    assert expected_calibration_error(y, sharpened, n_bins=10) > 0.1


# ---------------------------------------------------------------- Brier and NLL
def test_brier_by_hand_and_against_scikit_learn(random_proba):
    assert multiclass_brier_score([1], [[0.2, 0.5, 0.3]], labels=[0, 1, 2]) == pytest.approx(
        0.04 + 0.25 + 0.09
    )
    y, proba = random_proba
    assert multiclass_brier_score(y, proba) == pytest.approx(
        brier_score_loss(y, proba, scale_by_half=False)
    )
    p = proba[:, 0]
    y01 = (y == 0).astype(int)
    assert multiclass_brier_score(y01, p) == pytest.approx(2 * brier_score_loss(y01, p))


def test_gaussian_nll_by_hand_and_against_scipy():
    rng = np.random.default_rng(1)
    y, mean, std = rng.normal(size=50), rng.normal(size=50), rng.uniform(0.5, 2, size=50)
    expected = -stats.norm.logpdf(y, loc=mean, scale=std).mean()
    assert gaussian_nll(y, mean, std) == pytest.approx(expected)
    assert gaussian_nll([1.0], [1.0], 1.0) == pytest.approx(0.5 * np.log(2 * np.pi))
    with pytest.raises(ValueError, match="std must be positive"):
        gaussian_nll(y, mean, np.zeros(50))
    with pytest.raises(ValueError, match="has shape"):
        gaussian_nll(y, mean[:3], 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_bins": 0}, "n_bins must be an int >= 1"),
        ({"strategy": "width"}, "strategy must be 'uniform' or 'quantile'"),
        ({"method": "marginal"}, "method must be 'top-label' or 'classwise'"),
        ({"y_proba": [[0.5, 0.6], [0.5, 0.5]]}, "must sum to 1"),
        ({"y_proba": [[1.5, -0.5], [0.5, 0.5]]}, r"probabilities in \[0, 1\]"),
        ({"sample_weight": [-1.0, 1.0]}, "non-negative"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    arguments = {"y_true": [0, 1], "y_proba": [[0.5, 0.5], [0.5, 0.5]], **kwargs}
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(**arguments)


# ---------------------------------------------------------------- scorers
#: The scorers of any classifier's probabilities (the coverage scorers, known by name but
#: not in this dict, need a conformal estimator: tests/test_conformal_sets.py).
PROBABILITY_SCORERS = scorers


def test_scorers_work_in_cross_validate_searches_and_compare_models():
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=500)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    result = cross_validate(model, X, y, cv=cv, scoring=PROBABILITY_SCORERS)
    for name in PROBABILITY_SCORERS:
        assert (result[f"test_{name}"] <= 0).all()
    fold = next(iter(cv.split(X, y)))[0]
    fitted = model.fit(X[fold], y[fold])
    direct = expected_calibration_error(y, fitted.predict_proba(X))
    assert scorers["neg_expected_calibration_error"](fitted, X, y) == -direct
    search = GridSearchCV(
        model, {"C": [0.01, 1.0]}, cv=cv, scoring=scorers["neg_multiclass_brier_score"]
    )
    assert search.fit(X, y).best_params_ == {"C": 1.0}
    tables = compare_models({"logistic": model}, X, y, cv=cv, scoring=PROBABILITY_SCORERS)
    table = tables["neg_expected_calibration_error"]
    assert table.scoring == "neg_expected_calibration_error"
    assert -1.0 <= table[0].ci_low and table[0].ci_high <= 0.0  # clipped to the range


@pytest.mark.parametrize("name", list(PROBABILITY_SCORERS))
def test_this_package_scorer_names_are_taken_wherever_a_scoring_is(name, tiny_net_params):
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.averaging import model_soup
    from ensemblekit.ensemble import BaggingClassifier, CVEnsembleClassifier
    from ensemblekit.model_selection import (
        StackedGridSearchCV,
        ensemble_size_curve,
        nested_cross_validate,
        paired_ttest_5x2cv,
    )
    from ensemblekit.nets import NeuralNetClassifier

    X, y = load_iris(return_X_y=True)
    scorer, model = scorers[name], LogisticRegression(max_iter=500)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)

    def same(by_name, by_scorer):
        assert by_name == pytest.approx(by_scorer) and np.all(np.asarray(by_name) <= 0)

    same(*(compare_models({"lr": model}, X, y, cv=cv, scoring=s)[0].scores for s in (name, scorer)))
    both = compare_models({"lr": model}, X, y, cv=cv, scoring=["accuracy", name])
    same(both[name][0].scores, compare_models({"lr": model}, X, y, cv=cv, scoring=scorer)[0].scores)
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=4, random_state=0).fit(X, y)
    same(*(ensemble_size_curve(bag, X, y, scoring=s, random_state=0).mean for s in (name, scorer)))
    search = GridSearchCV(model, {"C": [1.0]}, cv=2)
    same(*(nested_cross_validate(search, X, y, outer_cv=cv, scoring=s).outer_scores
           for s in (name, scorer)))  # fmt: skip
    pair = (model, DecisionTreeClassifier(random_state=0))
    tests = [paired_ttest_5x2cv(*pair, X, y, scoring=s, random_state=0) for s in (name, scorer)]
    assert tests[0].statistic == pytest.approx(tests[1].statistic)
    ensembles = [CVEnsembleClassifier(model, cv=cv, scoring=s).fit(X, y) for s in (name, scorer)]
    same(*(e.cv_scores_ for e in ensembles))
    nets = [NeuralNetClassifier(**tiny_net_params, random_state=i).fit(X, y) for i in range(2)]
    soups = [model_soup(nets, X, y, method="greedy", scoring=s) for s in (name, scorer)]
    assert soups[0].soup_ingredients_ == soups[1].soup_ingredients_
    stacked = StackedGridSearchCV(NeuralNetClassifier(**tiny_net_params), {"lr": [1e-2]}, cv=2,
                                  scoring=name).fit(X, y)  # fmt: skip
    assert stacked.scoring == name and stacked.scorer_ is scorer  # given back as given
    assert stacked.best_score_ <= 0


def test_temperature_scaling_of_an_ensemble_through_scikit_learn():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.datasets import load_digits
    from sklearn.frozen import FrozenEstimator

    from ensemblekit.ensemble import DeepEnsembleClassifier
    from ensemblekit.nets import NeuralNetClassifier

    X, y = load_digits(return_X_y=True)
    X = X / 16
    net = NeuralNetClassifier(max_epochs=8, module__hidden_units=(32,), random_state=0)
    ensemble = DeepEnsembleClassifier(net, n_estimators=2, random_state=0).fit(X[:600], y[:600])
    calibrated = CalibratedClassifierCV(FrozenEstimator(ensemble), method="temperature")
    calibrated.fit(X[600:1000], y[600:1000])
    test = X[1000:], y[1000:]
    before, after = ensemble.predict_proba(test[0]), calibrated.predict_proba(test[0])
    # One temperature for all classes: p ** beta renormalised, so no prediction changes.
    beta = calibrated.calibrated_classifiers_[0].calibrators[0].beta_
    powered = before**beta / (before**beta).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(after, powered, atol=1e-6)
    np.testing.assert_array_equal(after.argmax(axis=1), before.argmax(axis=1))
    assert expected_calibration_error(test[1], after) < expected_calibration_error(test[1], before)
    # Cross-fitted on an unfitted net, as a search would: works as for any classifier.
    cross = CalibratedClassifierCV(net, method="temperature", cv=2).fit(X[:400], y[:400])
    assert cross.predict_proba(X[:5]).shape == (5, 10)


def test_reliability_display_points_by_hand_and_several_models():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection, PathCollection

    from ensemblekit.metrics import ReliabilityDisplay

    y = [0, 1, 1, 0]  # confidences 0.9, 0.85 right, 0.65 right, 0.7 wrong; 2 bins
    proba = np.array([[0.9, 0.1], [0.15, 0.85], [0.35, 0.65], [0.3, 0.7]])
    display = ReliabilityDisplay.from_predictions(y, {"a": proba, "b": proba[:, ::-1]}, n_bins=5)
    points = [c for c in display.ax_.collections if isinstance(c, PathCollection)]
    confidence, accuracy = points[0].get_offsets().T
    # bins (.6, .8]: 0.65 right and 0.7 wrong; (.8, 1]: 0.9 and 0.85 right
    np.testing.assert_allclose(confidence, [0.675, 0.875])
    np.testing.assert_allclose(accuracy, [0.5, 1.0])
    # Bins of 2 rows: hollow points, no line through them, each with its 95% interval.
    assert display.lines_["a"].get_xydata().size == 0
    assert np.all(points[0].get_facecolors()[:, :3] == 1)
    (bars,) = [c for c in display.ax_.collections if isinstance(c, LineCollection)][:1]
    low, high = (segment[:, 1] for segment in np.stack(bars.get_segments(), axis=1))
    np.testing.assert_allclose(low, [0.0945, 0.3424], atol=1e-4)  # Wilson, by hand
    np.testing.assert_allclose(high, [0.9055, 1.0], atol=1e-4)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend[1] == f"a (ECE {expected_calibration_error(y, proba, n_bins=5):.3f})"
    title = display.ax_.get_legend().get_title().get_text()
    assert title.startswith("5 equal-width bins") and "share of the rows" in title
    # Each bin's point has an area that grows with its rows: here 2 rows in each bin.
    sizes = points[0].get_sizes()
    assert len(sizes) == 2 and sizes[0] == sizes[1]
    # One model's probabilities, as scikit-learn's from_predictions takes them.
    one = ReliabilityDisplay.from_predictions(y, proba, n_bins=5, name="mine")
    assert list(one.lines_) == ["mine"]
    # Bins of 10 rows or more are joined, filled; the axes start near the lowest
    # confidence (0.5 or more for two classes), not at 0.
    many = ReliabilityDisplay.from_predictions(np.repeat(y, 10), np.repeat(proba, 10, axis=0))
    np.testing.assert_allclose(many.lines_["model"].get_data()[1], [1.0, 0.0, 1.0, 1.0])
    assert many.ax_.get_xlim()[0] == pytest.approx(0.6)
    with pytest.raises(TypeError, match="dict of model name"):
        ReliabilityDisplay.from_predictions(y, "proba")
    plt.close("all")


def test_reliability_display_from_estimator_follows_scikit_learn(binary):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt
    from sklearn.linear_model import LogisticRegression

    from ensemblekit.metrics import ReliabilityDisplay

    X, y = binary
    model = LogisticRegression().fit(X, y)
    display = ReliabilityDisplay.from_estimator(model, X, y, n_bins=4)
    assert list(display.lines_) == ["LogisticRegression"]
    several = ReliabilityDisplay.from_estimators({"LogisticRegression": model}, X, y, n_bins=4)
    np.testing.assert_array_equal(
        display.lines_["LogisticRegression"].get_data(),
        several.lines_["LogisticRegression"].get_data(),
    )
    with pytest.raises(TypeError, match="from_estimators"):
        ReliabilityDisplay.from_estimator({"a": model}, X, y)
    plt.close("all")
