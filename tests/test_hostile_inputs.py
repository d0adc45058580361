"""Helpers refuse what they cannot judge: NaN, infinity, a wrong type or an empty input
raise an error naming the argument, never a silent NaN or a number from invalid input."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    CVEnsembleRegressor,
    DeepEnsembleRegressor,
    SnapshotEnsembleRegressor,
)
from ensemblekit.model_selection import bootstrap_ci, corrected_resampled_ttest, mcnemar_test
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

Y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
P1 = np.array([0, 1, 1, 1, 1, 0, 0, 0])
P2 = np.array([1, 1, 0, 0, 1, 0, 1, 1])
SCORES = np.array([0.02, 0.01, 0.03, 0.00, 0.04])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_mcnemar_refuses_a_label_that_is_not_finite(bad, position):
    arrays = [Y.astype(float), P1.astype(float), P2.astype(float)]
    arrays[position][0] = bad
    name = ["y_true", "y_pred1", "y_pred2"][position]
    with pytest.raises(ValueError, match=f"{name} holds NaN or infinity"):
        mcnemar_test(*arrays)


@pytest.mark.parametrize("exact", ["yes", 1, 0.5])
def test_mcnemar_exact_is_a_bool_or_none(exact):
    with pytest.raises(ValueError, match="exact must be True, False or None"):
        mcnemar_test(Y, P1, P2, exact=exact)
    assert mcnemar_test(Y, P1, P2, exact=np.True_).pvalue == mcnemar_test(Y, P1, P2).pvalue


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0, -5, True, "80"])
def test_corrected_ttest_needs_positive_row_counts(bad):
    with pytest.raises(ValueError, match="n_train must be a positive number of rows"):
        corrected_resampled_ttest(SCORES, n_train=bad, n_test=20)
    with pytest.raises(ValueError, match="n_test must be a positive number of rows"):
        corrected_resampled_ttest(SCORES, n_train=80, n_test=bad)


def test_corrected_ttest_on_huge_scores_is_the_same_test():
    expected = corrected_resampled_ttest(SCORES, n_train=80, n_test=20)
    for a, b in [(SCORES * 1e308, None), (SCORES * 1e308, -SCORES * 1e308)]:
        result = corrected_resampled_ttest(a, b, n_train=80, n_test=20)
        scale = 1 if b is None else 2
        assert result.statistic == pytest.approx(expected.statistic) and scale
        assert result.pvalue == pytest.approx(expected.pvalue)


@pytest.mark.parametrize(
    ("a", "b"), [(SCORES, SCORES[:3]), (SCORES.reshape(5, 1), None), (SCORES[:1], None)]
)
def test_corrected_ttest_names_the_shapes(a, b):
    with pytest.raises(ValueError, match="scores_a and scores_b must be 1-D"):
        corrected_resampled_ttest(a, b, n_train=80, n_test=20)


def test_bootstrap_ci_refuses_an_undefined_score():
    p = np.linspace(0.1, 0.9, 40)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="metric gives nan"):
        bootstrap_ci(np.zeros(40), p, roc_auc_score, n_resamples=50, random_state=0)
    rare = np.r_[1, np.zeros(39)]  # most resamples miss the one positive row
    with (
        pytest.warns(UserWarning),
        pytest.raises(ValueError, match="undefined on some of the resampled rows"),
    ):
        bootstrap_ci(rare, p, roc_auc_score, n_resamples=50, random_state=0)


def test_bootstrap_ci_names_a_metric_given_as_a_string():
    with pytest.raises(TypeError, match=r"such as sklearn\.metrics\.roc_auc_score"):
        bootstrap_ci(Y, P1, "roc_auc")
    with pytest.raises(TypeError, match="metric must be a function"):
        bootstrap_ci(Y, P1, "nonsense")
    assert bootstrap_ci(Y, P1, accuracy_score, n_resamples=50, random_state=0).estimate == 0.75


# ------------------------------------------------------------------ metrics
def test_metrics_refuse_a_weight_that_is_not_finite():
    from ensemblekit.metrics import (
        expected_calibration_error,
        gaussian_nll,
        multiclass_brier_score,
    )

    proba = np.array([[0.3, 0.7], [0.9, 0.1], [0.4, 0.6], [0.8, 0.2]])
    y = np.array([1, 0, 0, 0])
    for bad in (np.nan, np.inf):
        weight = np.array([1.0, bad, 1.0, 1.0])
        for call in (
            lambda w: expected_calibration_error(y, proba, sample_weight=w),
            lambda w: multiclass_brier_score(y, proba, sample_weight=w),
            lambda w: gaussian_nll(y * 1.0, proba[:, 1], 1.0, sample_weight=w),
        ):
            with pytest.raises(ValueError, match="sample_weight holds NaN or infinity"):
                call(weight)


@pytest.mark.parametrize("name", ["y_true", "mean"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_gaussian_nll_refuses_values_that_are_not_finite(name, bad):
    from ensemblekit.metrics import gaussian_nll

    values = {"y_true": np.array([0.0, 1.0, 2.0]), "mean": np.array([0.1, 0.9, 2.5])}
    values[name][1] = bad
    with pytest.raises(ValueError, match=f"{name} holds NaN or infinity"):
        gaussian_nll(values["y_true"], values["mean"], 1.0)


def test_gaussian_nll_of_a_vanishing_std_is_infinite_not_nan():
    from ensemblekit.metrics import gaussian_nll

    y, mean, std = np.array([0.0, 1.0, 2.0]), np.array([0.1, 0.9, 2.5]), np.array([0.5, 1, 2])
    exact = np.mean(0.5 * np.log(2 * np.pi * std**2) + (y - mean) ** 2 / (2 * std**2))
    assert gaussian_nll(y, mean, std) == pytest.approx(exact, rel=1e-14)
    assert gaussian_nll(y, mean, std * 1e-200) == np.inf
    # A mean that is right on every row: the log term alone, finite however small std is.
    assert gaussian_nll(y, y, 1e-200) == pytest.approx(0.5 * np.log(2 * np.pi) + np.log(1e-200))
    with pytest.raises(ValueError, match=r"std must be a float or have mean's shape \(3,\)"):
        gaussian_nll(y, mean, np.ones(4))


# ------------------------------------------------------------------ losses and nets
@pytest.mark.parametrize("alpha", [np.nan, np.inf, -1.0, [1.0, np.nan], [1.0, -2.0]])
def test_focal_loss_refuses_an_alpha_that_is_not_a_weight(alpha):
    from ensemblekit.imbalance import FocalLoss

    with pytest.raises(ValueError, match="alpha must be a"):
        FocalLoss(alpha=alpha)


@pytest.mark.parametrize("gamma", [np.nan, np.inf, -0.5])
def test_focal_loss_refuses_a_gamma_that_is_not_finite(gamma):
    from ensemblekit.imbalance import FocalLoss

    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        FocalLoss(gamma=gamma)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"max_epochs": True}, "max_epochs must be an integer, got True"),
        ({"n_iter_no_change": True}, "n_iter_no_change must be an integer"),
        ({"n_threads": 10**6}, "more than this machine's"),
    ],
)
def test_a_net_refuses_a_bool_count_and_more_threads_than_cores(params, message):
    from ensemblekit.nets import NeuralNetClassifier

    X = np.random.RandomState(0).rand(20, 3)
    with pytest.raises(ValueError, match=message):
        NeuralNetClassifier(**params).fit(X, np.arange(20) % 2)


# ------------------------------------------------------------------ searches
@pytest.fixture(scope="module")
def search():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    return GridSearchCV(LogisticRegression(max_iter=500), {"C": [0.01, 0.1, 1]}).fit(X, y)


@pytest.mark.parametrize("k", [1.5, True, 0, 4, "2"])
def test_top_k_ensemble_takes_a_whole_number_of_candidates(search, k):
    from ensemblekit.model_selection import top_k_ensemble

    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 3\]"):
        top_k_ensemble(search, k=k)


@pytest.mark.parametrize("margin", [-1, np.nan, 0.5, 2.0, "0.1"])
def test_check_search_border_takes_a_margin_below_half(search, margin):
    from ensemblekit.model_selection import check_search_border

    with pytest.raises(ValueError, match=r"margin must be a fraction .* in \[0, 0.5\)"):
        check_search_border(search, margin=margin)


def test_search_helpers_name_what_they_were_given():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    from ensemblekit.model_selection import check_search_border, top_k_ensemble

    for helper in (top_k_ensemble, check_search_border):
        with pytest.raises(TypeError, match="must be a fitted search such as GridSearchCV"):
            helper(LogisticRegression())
        with pytest.raises(ValueError, match="GridSearchCV is not fitted"):
            helper(GridSearchCV(LogisticRegression(), {"C": [1.0]}))


# ------------------------------------------------------------------ imbalance
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"batch_size": 2.7}, "batch_size must be an integer >= 1, got 2.7"),
        ({"batch_size": True}, "batch_size must be an integer >= 1"),
        ({"sampling_ratio": {0: np.nan}}, "sampling_ratio needs finite non-negative shares"),
        ({"sampling_ratio": {0: np.inf, 1: 1}}, "sampling_ratio needs finite non-negative"),
        ({"sampling_ratio": {0: "1"}}, "sampling_ratio needs finite non-negative shares"),
    ],
)
def test_balanced_batch_sampler_refuses_settings_it_cannot_follow(params, message):
    from ensemblekit.imbalance import BalancedBatchSampler

    with pytest.raises(ValueError, match=message):
        BalancedBatchSampler(Y, **{"batch_size": 2, **params})


@pytest.mark.parametrize(
    ("y", "message"),
    [(np.array([]), "at least one class label"), (np.array([0.0, np.nan, 1.0]), "y holds NaN")],
)
def test_class_weights_and_sampler_refuse_labels_that_are_not_labels(y, message):
    from ensemblekit.imbalance import BalancedBatchSampler, compute_class_weight

    with pytest.raises(ValueError, match=message):
        compute_class_weight(y)
    with pytest.raises(ValueError, match=message):
        BalancedBatchSampler(y, batch_size=2)


P = np.array([[0.3, 0.7], [0.9, 0.1]])


@pytest.mark.parametrize(
    ("proba", "train", "true", "message"),
    [
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), [0.5, 0.5], [0.9, 0.1], "proba must hold finite"),
        (-P, [0.5, 0.5], [0.9, 0.1], "proba must hold finite, non-negative"),
        (P, [np.nan, 0.5], [0.9, 0.1], "train_prior must be finite positive"),
        (P, [0.0, 0.5], [0.9, 0.1], "train_prior must be finite positive"),
        (P, [0.5, 0.5], [np.nan, 0.1], "true_prior must be finite non-negative"),
        (P, [0.5, 0.5], [0.0, 0.0], "true_prior must be finite non-negative shares with a"),
        (np.array([[1.0, 0.0]]), [0.5, 0.5], [0.0, 1.0], r"rows \[0\] give every class"),
    ],
)
def test_correct_prior_shift_refuses_invalid_input(proba, train, true, message):
    from ensemblekit.imbalance import correct_prior_shift

    with pytest.raises(ValueError, match=message):
        correct_prior_shift(proba, train_prior=train, true_prior=true)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"class_weight": {0: np.nan}}, "finite weight >= 0, got nan for class 0"),
        ({"class_weight": {1: -1.0}}, "finite weight >= 0, got -1.0 for class 1"),
        ({"callbacks": [1]}, r"callbacks\[0\] must be a skorch callback"),
        ({"callbacks": [("name", "x")]}, r"callbacks\[0\] must be a skorch callback"),
    ],
)
def test_a_net_names_a_bad_class_weight_or_callback(params, message):
    from ensemblekit.nets import NeuralNetClassifier

    X = np.random.RandomState(0).rand(20, 3)
    with pytest.raises(ValueError, match=message):
        NeuralNetClassifier(max_epochs=1, **params).fit(X, np.arange(20) % 2)


def test_ensemble_size_curve_refuses_a_score_undefined_on_the_rows():
    from sklearn.datasets import load_breast_cancer
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.ensemble import BaggingClassifier
    from ensemblekit.model_selection import ensemble_size_curve

    X, y = load_breast_cancer(return_X_y=True)
    bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=3, random_state=0).fit(X, y)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="roc_auc of the whole"):
        ensemble_size_curve(bag, X, np.zeros_like(y), scoring="roc_auc")
    assert np.isfinite(ensemble_size_curve(bag, X, y, scoring="roc_auc").scores).all()


def test_paired_ttest_5x2cv_names_x_and_y_of_other_lengths():
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.model_selection import paired_ttest_5x2cv

    X, y = load_iris(return_X_y=True)
    tree = DecisionTreeClassifier()
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[150, 100\]"):
        paired_ttest_5x2cv(tree, tree, X, y[:100], random_state=0)


@pytest.mark.parametrize(
    "booster", ["AdaBoostClassifier", "GradientBoostingClassifier", "AdaBoostRegressor"]
)
def test_a_boosters_input_tags_follow_its_member(booster):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.utils import get_tags

    from ensemblekit import ensemble
    from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

    cls = getattr(ensemble, booster)
    classify = booster == "AdaBoostClassifier"  # gradient boosting's members regress
    tolerant = HistGradientBoostingClassifier() if classify else HistGradientBoostingRegressor()
    net = NeuralNetClassifier() if classify else NeuralNetRegressor()
    assert get_tags(cls(tolerant)).input_tags.allow_nan
    assert not get_tags(cls(net)).input_tags.allow_nan
    X = np.random.RandomState(0).rand(60, 3)
    X[::7, 1] = np.nan
    y = (np.arange(60) % 2) if booster != "AdaBoostRegressor" else np.arange(60) / 60
    if booster.startswith("AdaBoost"):  # gradient boosting's members fit one column a class
        fitted = cls(tolerant, n_estimators=2, random_state=0).fit(X, y)
        assert np.isfinite(fitted.predict(X)).all()


@pytest.mark.parametrize(
    "make", [NeuralNetClassifier, NeuralNetRegressor], ids=["classifier", "regressor"]
)
@pytest.mark.parametrize("as_list", [False, True], ids=["array", "list"])
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # one epoch
def test_a_net_refuses_strings_as_scikit_learn_numeric_input_does(make, as_list, binary):
    # "0.5" would parse silently and "red" would fail deep inside: both are refused.
    X, y = binary
    strings = X.astype(str)
    with pytest.raises(ValueError, match=r"X holds strings.*X\.astype\(float\)"):
        make(max_epochs=1).fit(strings.tolist() if as_list else strings, y)
    net = make(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="X holds strings"):
        net.predict(strings)


@pytest.mark.parametrize(
    ("ensemble", "member", "twin"),
    [
        (DeepEnsembleRegressor, NeuralNetClassifier, "DeepEnsembleClassifier"),
        (BaggingClassifier, DecisionTreeRegressor, "BaggingRegressor"),
        (BaggingRegressor, DecisionTreeClassifier, "BaggingClassifier"),
        (CVEnsembleRegressor, DecisionTreeClassifier, "CVEnsembleClassifier"),
        (SnapshotEnsembleRegressor, NeuralNetClassifier, "SnapshotEnsembleClassifier"),
        (AdaBoostClassifier, DecisionTreeRegressor, "AdaBoostRegressor"),
        (AdaBoostRegressor, DecisionTreeClassifier, "AdaBoostClassifier"),
    ],
)
def test_an_ensemble_refuses_a_member_of_the_other_kind(ensemble, member, twin, binary):
    X, y = binary
    # A pipeline is judged by its last step (snapshot ensembles take a bare net).
    wrapped = member() if "Snapshot" in twin else make_pipeline(StandardScaler(), member())
    with pytest.raises(ValueError, match=f"is a (classifier|regressor).*use {twin}"):
        ensemble(wrapped).fit(X, y)


@pytest.mark.parametrize("classes", [[], [1]])
def test_classes_naming_fewer_than_two_labels_is_refused_by_name(classes):
    X, y = np.zeros((4, 2), dtype=np.float32), np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match=r"^classes must name at least 2 classes, got \["):
        NeuralNetClassifier(classes=classes, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"^partial_fit\(classes=...\) must name at least 2"):
        NeuralNetClassifier(max_epochs=1).partial_fit(X, y, classes=classes)
