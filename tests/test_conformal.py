"""Conformal intervals: the quantile by hand, MAPIE's intervals from the same models, the
jackknife+ after bootstrap against a loop written from the paper, coverage, bad input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, RepeatedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.conformal import ConformalRegressor
from ensemblekit.conformal._quantiles import lower, rows_needed, upper
from ensemblekit.ensemble import BaggingRegressor, CVEnsembleRegressor
from ensemblekit.metrics import coverage_score, mean_width_score

LEVELS = [0.5, 0.8, 0.9]


@pytest.fixture(scope="module")
def data():
    X, y = make_regression(300, 4, noise=20, random_state=0)
    return X[:200], y[:200], X[200:], y[200:]


def test_the_quantile_is_the_kth_smallest_score_by_hand():
    scores = np.arange(1.0, 10.0)  # n = 9
    assert upper(scores, 0.8) == 8  # ceil(0.8 * 10) = 8th smallest
    assert upper(scores, 0.9) == 9
    assert upper(scores, 0.95) == np.inf  # ceil(9.5) = 10 > 9 rows
    assert lower(scores, 0.8) == 2  # the 8th largest
    assert upper(np.array([1.0, np.nan, 2.0]), 0.5) == 2  # n = 2 finite: ceil(1.5) = 2nd
    assert rows_needed(0.9) == 9 and rows_needed(0.95) == 19


def test_too_few_calibration_rows_give_infinite_bounds_and_say_how_many(data):
    X, y, X_test, _ = data
    model = ConformalRegressor(LinearRegression().fit(X, y), confidence_level=0.95, prefit=True)
    with pytest.warns(UserWarning, match="It needs at least 19"):
        model.fit(X[:10], y[:10])
    assert np.all(np.isinf(model.predict_interval(X_test)))


def test_split_gives_mapies_intervals(data):
    mapie = pytest.importorskip("mapie.regression")
    X, y, X_test, _ = data
    fitted = LinearRegression().fit(X[:120], y[:120])
    ours = ConformalRegressor(fitted, confidence_level=LEVELS, prefit=True).fit(X[120:], y[120:])
    theirs = mapie.SplitConformalRegressor(fitted, confidence_level=LEVELS, prefit=True)
    theirs.conformalize(X[120:], y[120:])
    np.testing.assert_allclose(ours.predict_interval(X_test), theirs.predict_interval(X_test)[1])
    np.testing.assert_allclose(ours.predict(X_test), fitted.predict(X_test))


@pytest.mark.parametrize("method", ["cv_plus", "cv_minmax"])
def test_cv_methods_give_mapies_intervals(method, data):
    mapie = pytest.importorskip("mapie.regression")
    X, y, X_test, _ = data
    cv = KFold(5, shuffle=True, random_state=0)
    ours = ConformalRegressor(LinearRegression(), method=method, cv=cv, confidence_level=LEVELS)
    ours.fit(X, y)
    theirs = mapie.CrossConformalRegressor(
        LinearRegression(), confidence_level=LEVELS, method=method.removeprefix("cv_"), cv=cv
    ).fit_conformalize(X, y)
    np.testing.assert_allclose(ours.predict_interval(X_test), theirs.predict_interval(X_test)[1])
    # A fitted CV ensemble brings the same fold models.
    ensemble = CVEnsembleRegressor(LinearRegression(), cv=cv).fit(X, y)
    prefit = ConformalRegressor(ensemble, method=method, confidence_level=LEVELS, prefit=True)
    np.testing.assert_allclose(
        prefit.fit(X, y).predict_interval(X_test), ours.predict_interval(X_test)
    )


def _jackknife_ab_by_hand(bagging, X, y, X_test, level):
    """Kim, Xu & Barber (2020), Algorithm 1, written as loops over rows and points."""
    members = bagging.estimators_
    member_X = [X[:, f] for f in bagging.estimators_features_]
    loo, residuals = [], []
    for i in range(len(X)):
        out = [k for k, rows in enumerate(bagging.estimators_samples_) if i not in set(rows)]
        if not out:
            continue
        residuals.append(abs(y[i] - np.mean([members[k].predict(member_X[k][i : i + 1])[0]
                                             for k in out])))  # fmt: skip
        loo.append(out)
    n = len(residuals)
    k = int(np.ceil(level * (n + 1)))
    bounds = []
    for x in X_test:
        at_x = np.array([m.predict(x[f][None])[0] for m, f in
                         zip(members, bagging.estimators_features_, strict=True)])  # fmt: skip
        centres = np.array([at_x[out].mean() for out in loo])
        bounds.append([np.sort(centres - residuals)[n - k], np.sort(centres + residuals)[k - 1]])
    return np.array(bounds)


def test_jackknife_plus_after_bootstrap_follows_the_paper_and_fits_nothing(data):
    X, y, X_test, _ = data
    bagging = BaggingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=12,
                               random_state=0).fit(X, y)  # fmt: skip
    members = list(bagging.estimators_)
    model = ConformalRegressor(bagging, method="jackknife_plus_ab", prefit=True,
                               confidence_level=0.8)  # fmt: skip
    with pytest.warns(UserWarning, match="drawn by every member"):  # 12 draws leave a few
        model.fit(X, y)
    assert model.estimator_ is bagging and all(
        a is b for a, b in zip(members, bagging.estimators_, strict=True)
    )  # nothing refitted
    np.testing.assert_allclose(
        model.predict_interval(X_test[:15]), _jackknife_ab_by_hand(bagging, X, y, X_test[:15], 0.8)
    )


def test_intervals_cover_about_as_promised():
    """Coverage given one calibration set varies by about sqrt(level (1 - level) / n): the
    mean over ten calibration splits must be near the level."""
    X, y = make_regression(4000, 5, noise=30, random_state=1)
    X_test, y_test = X[2000:], y[2000:, None]

    def coverage(model):
        intervals = model.fit(X[:2000], y[:2000]).predict_interval(X_test)
        return ((intervals[:, 0] <= y_test) & (y_test <= intervals[:, 1])).mean(axis=0)

    split = np.mean(
        [
            coverage(
                ConformalRegressor(LinearRegression(), confidence_level=LEVELS, random_state=seed)
            )
            for seed in range(10)
        ],
        axis=0,
    )
    np.testing.assert_allclose(split, LEVELS, atol=0.02)
    plus = ConformalRegressor(LinearRegression(), method="cv_plus", confidence_level=LEVELS)
    np.testing.assert_allclose(coverage(plus), LEVELS, atol=0.03)


def test_a_single_level_gives_two_columns_and_a_pipeline_works(data):
    X, y, X_test, _ = data
    model = ConformalRegressor(make_pipeline(StandardScaler(), LinearRegression()),
                               random_state=0).fit(X, y)  # fmt: skip
    intervals = model.predict_interval(X_test)
    assert intervals.shape == (len(X_test), 2) and np.all(intervals[:, 0] < intervals[:, 1])
    search = GridSearchCV(
        ConformalRegressor(LinearRegression(), random_state=0),
        {"calibration_size": [0.2, 0.4]}, cv=3,
    ).fit(X, y)  # fmt: skip
    assert search.best_estimator_.predict_interval(X_test).shape == (len(X_test), 2)
    assert clone(model).get_params()["estimator__linearregression__fit_intercept"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"confidence_level": 0}, "confidence_level"),
        ({"confidence_level": [0.9, 0.9]}, "lists a level twice"),
        ({"confidence_level": [0.9, 1.2]}, "confidence_level must be in"),
        ({"method": "cv_plus", "cv": RepeatedKFold(n_splits=3, n_repeats=2)}, "exactly once"),
        ({"method": "jackknife_plus_ab"}, "takes a BaggingRegressor"),
        ({"method": "cv_plus", "conformity_score": "normalized"}, "works with method='split'"),
        ({"conformity_score": "normalized"}, "takes no return_std"),
    ],
)
def test_bad_settings_name_the_argument(params, match, data):
    X, y, _, _ = data
    with pytest.raises((ValueError, TypeError), match=match):
        ConformalRegressor(LinearRegression(), **params).fit(X, y)


def test_bad_data_and_estimators_are_refused(data):
    X, y, _, _ = data
    y_nan = y.copy()
    y_nan[3] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite targets"):
        ConformalRegressor(LinearRegression()).fit(X, y_nan)
    with pytest.raises(TypeError, match="must be a regressor"):
        ConformalRegressor(LogisticRegression()).fit(X, y > 0)
    every_row = BaggingRegressor(DecisionTreeRegressor(), n_estimators=3, bootstrap=False)
    with pytest.raises(ValueError, match="no row has an out-of-bag prediction"):
        ConformalRegressor(every_row, method="jackknife_plus_ab").fit(X, y)
    model = ConformalRegressor(LinearRegression(), method="split")
    with pytest.raises(ValueError, match=r"not fitted|NotFitted"):
        model.predict_interval(X)


def test_coverage_and_width_by_hand_and_refusals():
    y = [1.0, 2.0, 5.0, 7.0]
    intervals = np.array([[0, 1], [2.5, 3], [4, 6], [8, 9]], dtype=float)
    assert coverage_score(y, intervals) == 0.5  # bounds count as inside
    assert mean_width_score(y, intervals) == 1.125  # widths 1, 0.5, 2, 1
    levels = np.stack([intervals, intervals + np.array([-1.0, 1.0])], axis=-1)  # (4, 2, 2)
    np.testing.assert_allclose(coverage_score(y, levels), [0.5, 1.0])
    np.testing.assert_allclose(mean_width_score(y, levels), [1.125, 3.125])
    with pytest.raises(ValueError, match="shape"):
        coverage_score(y, intervals[:, 0])
    with pytest.raises(ValueError, match="NaN"):
        coverage_score([1.0, np.nan, 5.0, 7.0], intervals)
    with pytest.raises(ValueError, match="lower bound above"):
        mean_width_score(y, intervals[:, ::-1])
    with pytest.raises(ValueError, match="inconsistent"):
        coverage_score(y[:3], intervals)
