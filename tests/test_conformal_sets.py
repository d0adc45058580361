"""Conformal prediction sets and their metrics: MAPIE's sets from the same model and
draws, CV+ and the jackknife+ after bootstrap against loops written from the papers,
per-class calibration, randomized sets, bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ensemblekit.conformal import ConformalClassifier
from ensemblekit.conformal._set_scores import label_scores, true_scores
from ensemblekit.ensemble import BaggingClassifier, CVEnsembleClassifier
from ensemblekit.metrics import (
    CoverageDisplay,
    conditional_coverage,
    mean_set_size,
    resolve_scoring,
    score_limits,
    set_coverage_score,
)

LEVELS = [0.5, 0.8, 0.9]


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        500, 6, n_informative=4, n_classes=4, n_clusters_per_class=1, flip_y=0.1, random_state=0
    )
    return X[:300], y[:300], X[300:], y[300:]


@pytest.fixture(scope="module")
def fitted(data):
    X, y, _, _ = data
    return LogisticRegression(max_iter=500).fit(X[:150], y[:150])


def test_scores_by_hand():
    proba = np.array([[0.5, 0.3, 0.2]])
    np.testing.assert_allclose(label_scores(proba, "lac", 1, 0.0), [[0.5, 0.7, 0.8]])
    np.testing.assert_allclose(label_scores(proba, "aps", 1, 0.0), [[0.0, 0.5, 0.8]])
    np.testing.assert_allclose(label_scores(proba, "top_k", 1, 0.0), [[1, 2, 3]])
    # RAPS: APS plus 0.1 per rank beyond the first.
    np.testing.assert_allclose(label_scores(proba, "raps", 1, 0.1), [[0.0, 0.6, 1.0]])
    # Calibration: APS adds (1 - u) of the true label's own probability.
    np.testing.assert_allclose(
        true_scores(proba, np.array([1]), np.array([0.25]), "aps", 1, 0), [0.725]
    )


@pytest.mark.parametrize("score", ["lac", "top_k"])
def test_split_gives_mapies_sets(score, data, fitted):
    mapie = pytest.importorskip("mapie.classification")
    X, y, X_test, _ = data
    ours = ConformalClassifier(fitted, conformity_score=score, confidence_level=LEVELS, prefit=True)
    ours.fit(X[150:], y[150:])
    theirs = mapie.SplitConformalClassifier(
        fitted, confidence_level=LEVELS, conformity_score=score, prefit=True
    ).conformalize(X[150:], y[150:])
    np.testing.assert_array_equal(ours.predict_set(X_test), theirs.predict_set(X_test)[1])
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))


def test_split_aps_gives_mapies_sets_from_the_same_draws(data, fitted):
    """MAPIE draws each calibration row's uniform from its random_state; given the same
    draws, the calibration scores and the sets are MAPIE's."""
    mapie = pytest.importorskip("mapie.classification")
    X, y, X_test, _ = data
    theirs = mapie.SplitConformalClassifier(
        fitted, confidence_level=LEVELS, conformity_score="aps", prefit=True, random_state=7
    ).conformalize(X[150:], y[150:])
    u = np.random.RandomState(7).uniform(size=150)
    ours = true_scores(fitted.predict_proba(X[150:]), y[150:], u, "aps", 1, 0.0)
    np.testing.assert_allclose(ours, theirs.conformity_scores.ravel(), atol=1e-12)
    model = ConformalClassifier(
        fitted, conformity_score="aps", confidence_level=LEVELS, prefit=True
    ).fit(X[150:], y[150:])
    model.conformity_scores_ = ours
    expected = theirs.predict_set(X_test, conformity_score_params={"include_last_label": True})
    np.testing.assert_array_equal(model.predict_set(X_test), expected[1])


def _cv_plus_by_hand(models, fold_of, X, y, X_test, level, kind):
    """Romano, Sesia & Candès (2020), the CV+ set: label c joins x's set when fewer than
    (1 - alpha)(n + 1) rows have a score below the score of (x, c) under their own fold's
    model (without randomization: a label is admitted when its score is below the row's)."""
    n = len(y)
    sets = np.zeros((len(X_test), 4), dtype=bool)
    row_scores = [
        true_scores(
            models[fold_of[i]].predict_proba(X[i : i + 1]), y[i : i + 1], np.ones(1), kind, 1, 0
        )[0]
        for i in range(n)
    ]  # u = 1: the label's probability adds nothing, for a plain comparison
    for j in range(len(X_test)):
        for c in range(4):
            below = 0
            for i in range(n):
                point = label_scores(
                    models[fold_of[i]].predict_proba(X_test[j : j + 1]), kind, 1, 0
                )
                s = point[0, c]
                below += (row_scores[i] < s) if kind == "lac" else (row_scores[i] <= s)
            sets[j, c] = below < level * (n + 1)
    return sets


@pytest.mark.parametrize("kind", ["lac", "aps"])
def test_cv_plus_follows_the_paper(kind, data):
    X, y, X_test, _ = data
    X, y, X_test = X[:80], y[:80], X_test[:15]
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    model = ConformalClassifier(
        LogisticRegression(max_iter=500), method="cv_plus", cv=cv, conformity_score=kind,
        confidence_level=0.8, random_state=0,
    ).fit(X, y)  # fmt: skip
    if kind == "aps":  # the same plain comparison as the loop: u = 1
        proba = model.estimator_.oof_predictions_
        model.conformity_scores_ = true_scores(proba, y, np.ones(len(y)), kind, 1, 0)
    expected = _cv_plus_by_hand(
        model.estimator_.estimators_, model.fold_of_, X, y, X_test, 0.8, kind
    )
    np.testing.assert_array_equal(model.predict_set(X_test), expected)
    # A fitted CV ensemble brings the same fold models, with prefit=True.
    ensemble = CVEnsembleClassifier(LogisticRegression(max_iter=500), cv=cv).fit(X, y)
    prefit = ConformalClassifier(ensemble, method="cv_plus", confidence_level=0.8, prefit=True)
    lac = ConformalClassifier(
        LogisticRegression(max_iter=500), method="cv_plus", cv=cv, confidence_level=0.8
    )
    np.testing.assert_array_equal(
        prefit.fit(X, y).predict_set(X_test), lac.fit(X, y).predict_set(X_test)
    )


def test_jackknife_ab_scores_each_row_by_its_out_of_bag_members(data):
    X, y, X_test, _ = data
    bagging = BaggingClassifier(LogisticRegression(max_iter=300), n_estimators=15, random_state=0)
    model = ConformalClassifier(bagging, method="jackknife_plus_ab", confidence_level=0.8)
    model.fit(X, y)
    fitted = model.estimator_
    # By hand: row i's probabilities are the mean of the members that did not draw it.
    i = 3
    out = [k for k, rows in enumerate(fitted.estimators_samples_) if i not in rows]
    proba = np.mean([fitted.predict_members(X[i : i + 1])[k, 0] for k in out], axis=0)
    np.testing.assert_allclose(model.conformity_scores_[i], 1 - proba[y[i]])
    # Prefit: the same calibration from the fitted bagging estimator, no refit.
    prefit = ConformalClassifier(
        fitted, method="jackknife_plus_ab", confidence_level=0.8, prefit=True
    )
    np.testing.assert_array_equal(prefit.fit(X, y).predict_set(X_test), model.predict_set(X_test))
    assert prefit.estimator_ is fitted


def test_mondrian_calibrates_each_class_on_its_own_rows(data, fitted):
    X, y, X_test, _ = data
    model = ConformalClassifier(fitted, mondrian=True, confidence_level=0.8, prefit=True)
    model.fit(X[150:], y[150:])
    proba = fitted.predict_proba(X_test)
    for c in range(4):
        scores = np.sort(1 - fitted.predict_proba(X[150:][y[150:] == c])[:, c])
        k = int(np.ceil(0.8 * (len(scores) + 1)))
        np.testing.assert_array_equal(
            model.predict_set(X_test)[:, c], 1 - proba[:, c] <= scores[k - 1]
        )


def test_mondrian_covers_a_rare_class_that_marginal_calibration_misses():
    X, y = make_classification(
        6000, 5, n_informative=3, weights=[0.93], flip_y=0.05, class_sep=0.6, random_state=1
    )
    X_fit, y_fit, X_cal, y_cal, X_test, y_test = (
        X[:2000],
        y[:2000],
        X[2000:4000],
        y[2000:4000],
        X[4000:],
        y[4000:],
    )
    fitted = LogisticRegression().fit(X_fit, y_fit)
    rare = y_test == 1
    coverage = {}
    for mondrian in (False, True):
        model = ConformalClassifier(fitted, mondrian=mondrian, prefit=True).fit(X_cal, y_cal)
        coverage[mondrian] = model.predict_set(X_test)[rare, 1].mean()
    assert coverage[False] < 0.8 and coverage[True] >= 0.85, coverage


def test_randomized_sets_cover_near_the_level_and_plain_ones_above(data):
    X, y = make_classification(
        4000, 6, n_informative=4, n_classes=4, n_clusters_per_class=1, random_state=3
    )
    fitted = LogisticRegression(max_iter=500).fit(X[:1000], y[:1000])
    covered = {}
    for randomized in (False, True):
        model = ConformalClassifier(
            fitted, conformity_score="aps", randomized=randomized, prefit=True,
            confidence_level=0.8, random_state=0,
        ).fit(X[1000:2500], y[1000:2500])  # fmt: skip
        sets = model.predict_set(X[2500:])
        covered[randomized] = sets[np.arange(1500), y[2500:]].mean()
        np.testing.assert_array_equal(sets, model.predict_set(X[2500:]))  # seeded: the same
    assert abs(covered[True] - 0.8) < 0.03 and covered[False] > covered[True], covered


def test_other_levels_without_a_refit(data, fitted):
    X, y, X_test, _ = data
    model = ConformalClassifier(fitted, conformity_score="aps", prefit=True, random_state=0)
    model.fit(X[150:], y[150:])
    at_levels = ConformalClassifier(
        fitted, conformity_score="aps", prefit=True, random_state=0, confidence_level=LEVELS
    ).fit(X[150:], y[150:])
    np.testing.assert_array_equal(model.predict_set(X_test, LEVELS), at_levels.predict_set(X_test))


def test_sets_are_seeded_and_work_in_a_pipeline_and_a_search(data):
    X, y, X_test, _ = data
    model = ConformalClassifier(
        make_pipeline(StandardScaler(), LogisticRegression()), method="cv_plus",
        conformity_score="raps", cv=3, random_state=0,
    )  # fmt: skip
    first = clone(model).fit(X, y).predict_set(X_test)
    np.testing.assert_array_equal(first, clone(model).fit(X, y).predict_set(X_test))
    search = GridSearchCV(model, {"estimator__logisticregression__C": [0.1, 1.0]}, cv=2)
    assert search.fit(X, y).best_estimator_.predict_set(X_test).shape == (200, 4)


def test_refusals_name_the_argument_and_fit_nothing(data, fitted):
    X, y, _, _ = data
    bad = [
        (dict(estimator=LinearSVC()), "predict_proba"),
        (dict(estimator=fitted, confidence_level=1.0), "confidence_level"),
        (dict(estimator=fitted, confidence_level=[0.9, 0.9]), "twice"),
        (dict(estimator=fitted, method="cv_plus", prefit=True), "CVEnsembleClassifier"),
        (dict(estimator=fitted, method="jackknife_plus_ab"), "BaggingClassifier"),
        (dict(estimator=fitted, conformity_score="nope"), "conformity_score"),
    ]
    for params, match in bad:
        model = ConformalClassifier(**params)
        with pytest.raises((ValueError, TypeError), match=match):
            model.fit(X, y)
        assert not hasattr(model, "conformity_scores_")
    with pytest.raises(ValueError, match="y contains NaN"):
        ConformalClassifier(fitted, prefit=True).fit(X[:3], np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"classes the model was not fitted on: \[9\]"):
        ConformalClassifier(fitted, prefit=True).fit(X[:3], [0, 9, 1])
    no_bootstrap = BaggingClassifier(
        LogisticRegression(), n_estimators=3, bootstrap=False, random_state=0
    )
    with pytest.raises(ValueError, match="bootstrap=True"):
        ConformalClassifier(no_bootstrap, method="jackknife_plus_ab").fit(X, y)


def test_a_class_without_calibration_rows_joins_every_set(data, fitted):
    X, y, X_test, _ = data
    keep = np.flatnonzero(y[150:] != 2) + 150
    model = ConformalClassifier(fitted, mondrian=True, prefit=True)
    with pytest.warns(UserWarning, match="0 calibration rows of class 2"):
        model.fit(X[keep], y[keep])
    assert model.predict_set(X_test)[:, 2].all()


def test_too_few_rows_of_a_class_widen_its_sets_and_say_so(data, fitted):
    X, y, X_test, _ = data
    keep = np.r_[np.flatnonzero(y[150:] != 3), np.flatnonzero(y[150:] == 3)[:4]] + 150
    model = ConformalClassifier(fitted, mondrian=True, prefit=True)
    with pytest.warns(
        UserWarning, match="4 calibration rows of class 3 are too few.*the class joins every set"
    ):
        model.fit(X[keep], y[keep])
    assert model.predict_set(X_test)[:, 3].all()


def test_set_metrics_by_hand():
    sets = np.array([[True, False, False], [True, True, False], [False, False, True]])
    assert set_coverage_score(["b", "b", "c"], sets, classes=["a", "b", "c"]) == pytest.approx(
        2 / 3
    )
    assert set_coverage_score([1, 1, 2], sets) == pytest.approx(2 / 3)  # columns
    # Classes need not be sorted: each label is found in its own column.
    assert set_coverage_score(["a", "a", "b"], sets, classes=["c", "a", "b"]) == pytest.approx(
        2 / 3
    )
    assert mean_set_size([0, 0, 0], sets) == pytest.approx(4 / 3)
    three = np.stack([sets, np.ones_like(sets)], axis=-1)
    np.testing.assert_allclose(set_coverage_score([1, 1, 2], three), [2 / 3, 1.0])
    with pytest.raises(ValueError, match=r"no column for: \['z'\]"):
        set_coverage_score(["a", "z", "a"], sets, classes=["a", "b", "c"])
    with pytest.raises(ValueError, match="booleans"):
        set_coverage_score([0, 1, 2], sets.astype(float))


def test_conditional_coverage_by_class_size_and_width():
    sets = np.array([[True, False], [True, True], [False, False], [False, True]])
    by_class = conditional_coverage([0, 1, 1, 1], sets, by="class")
    np.testing.assert_allclose(by_class.coverage, [1.0, 2 / 3])
    np.testing.assert_array_equal(by_class.rows, [1, 3])
    by_size = conditional_coverage([0, 1, 1, 1], sets, by="size")
    np.testing.assert_array_equal(by_size.group, [0, 1, 2])
    np.testing.assert_allclose(by_size.coverage, [0.0, 1.0, 1.0])
    intervals = np.array([[0, 1], [0, 1], [0, 4], [0, 4]], dtype=float)
    by_width = conditional_coverage([0.5, 2.0, 3.0, 5.0], intervals, by="size", n_bins=2)
    np.testing.assert_allclose(by_width.coverage, [0.5, 0.5])
    np.testing.assert_allclose(by_width.mean_size, [1.0, 4.0])
    with pytest.raises(ValueError, match="one level"):
        conditional_coverage([0], np.ones((1, 2, 2), dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        conditional_coverage([np.nan, 1.0], intervals[:2])


def test_coverage_scorers_in_cross_validate(data):
    X, y, _, _ = data
    model = ConformalClassifier(LogisticRegression(max_iter=500), random_state=0)
    scores = cross_validate(
        model, X, y, cv=3, scoring=resolve_scoring(["coverage", "neg_mean_size"])
    )
    assert np.all(scores["test_coverage"] > 0.75) and np.all(scores["test_neg_mean_size"] < 0)
    assert score_limits("coverage", model) == (0.0, 1.0)


def test_coverage_display_draws_what_the_metrics_measure(data, fitted):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    X, y, X_test, y_test = data
    model = ConformalClassifier(fitted, conformity_score="aps", prefit=True, random_state=0)
    model.fit(X[150:], y[150:])
    display = CoverageDisplay.from_estimators(
        {"aps": model}, X_test, y_test, confidence_level=LEVELS
    )
    levels, coverage, size = display.curves["aps"]
    np.testing.assert_array_equal(levels, LEVELS)
    sets = model.predict_set(X_test, LEVELS)
    np.testing.assert_allclose(coverage, set_coverage_score(y_test, sets))
    np.testing.assert_allclose(size, mean_set_size(y_test, sets))
    assert display.size_label == "mean set size" and display.axes_.shape == (2,)
    plt.close(display.figure_)


def test_hostile_inputs_to_the_metrics_and_the_loss():
    from ensemblekit.metrics import coverage_score, mean_width_score
    from ensemblekit.nets import PinballLoss

    for metric in (coverage_score, mean_width_score):
        with pytest.raises(ValueError, match="empty"):
            metric([], np.zeros((0, 2)))
    for metric in (set_coverage_score, mean_set_size):
        with pytest.raises(ValueError, match="empty"):
            metric([], np.zeros((0, 3), dtype=bool))
    with pytest.raises(ValueError, match="lower bound above"):
        coverage_score([1.0], [[2.0, 0.0]])
    # Infinite bounds (too few calibration rows) are honest: they cover, infinitely wide.
    assert coverage_score([1.0], [[-np.inf, np.inf]]) == 1.0
    assert mean_width_score([1.0], [[-np.inf, np.inf]]) == np.inf
    for bad in ([np.nan], [0.5, np.inf], [1.0]):
        with pytest.raises(ValueError, match="quantiles"):
            PinballLoss(quantiles=bad)
    with pytest.raises(ValueError, match="by must be"):
        conditional_coverage([0], np.ones((1, 2), dtype=bool), by="nope")


def test_a_study_scores_a_conformal_model_by_coverage_and_set_size(tmp_path):
    from ensemblekit.experiment import Experiment

    study_file = tmp_path / "study.toml"
    study_file.write_text(
        'name = "sets"\nscoring = ["coverage", "neg_mean_size"]\nrandom_state = 0\n'
        '[data]\nloader = "sklearn.datasets.load_iris"\n[cv]\nn_splits = 3\n'
        '[models.sets]\nclass = "ensemblekit.conformal.ConformalClassifier"\n'
        'estimator = { class = "sklearn.linear_model.LogisticRegression", max_iter = 500 }\n'
        "confidence_level = 0.8\nrandom_state = 0\n"
    )
    study = Experiment.from_toml(study_file)
    study.verbose = 0
    run = study.run(tmp_path / "run").run_
    tables = run.comparison
    assert 0.5 <= tables["coverage"][0].mean <= 1.0
    assert tables["neg_mean_size"][0].mean < 0
