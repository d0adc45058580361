"""Conformal intervals: the quantile by hand, MAPIE's intervals from the same models, the
jackknife+ after bootstrap against a loop written from the paper, coverage, bad input."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression, QuantileRegressor
from sklearn.model_selection import GridSearchCV, KFold, RepeatedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeRegressor

from ensemblekit.conformal import ConformalRegressor
from ensemblekit.conformal._quantiles import lower, rows_needed, upper
from ensemblekit.ensemble import BaggingRegressor, CVEnsembleRegressor
from ensemblekit.metrics import coverage_score, mean_width_score
from ensemblekit.nets import NeuralNetRegressor, PinballLoss
from ensemblekit.utils._random import check_random_state, draw_seeds

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


def test_pinball_loss_by_hand_and_a_net_that_learns_quantiles():
    loss = PinballLoss(quantiles=(0.9, 0.1), reduction="none")  # sorted: (0.1, 0.9)
    assert loss.quantiles == (0.1, 0.9) and loss.outputs_per_target == 2
    # y = 1, both quantiles at 0: residual 1, losses 0.1 and 0.9; at 2: -1, 0.9 and 0.1.
    out = loss(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), torch.tensor([[1.0], [1.0]]))
    np.testing.assert_allclose(out.numpy(), [0.5, 0.5])
    # Two targets: quantile-major outputs (the first quantile of each target, then the next).
    two = PinballLoss(quantiles=(0.1, 0.9), reduction="none")
    split = two.split(torch.arange(4.0).reshape(1, 4))
    np.testing.assert_array_equal(split.numpy(), [[[0.0, 2.0], [1.0, 3.0]]])
    for bad in [(), (0.5, 0.5), (0.0, 0.5), "a"]:
        with pytest.raises(ValueError, match="quantiles"):
            PinballLoss(quantiles=bad)
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, (400, 2)).astype(np.float32)
    y = X[:, 0] + rng.normal(size=400)
    net = NeuralNetRegressor(
        criterion=PinballLoss, criterion__quantiles=(0.1, 0.5, 0.9), max_epochs=30, lr=0.02,
        random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a few epochs, on purpose
        net.fit(X, y)
    quantiles = net.predict_quantiles(X)
    assert (
        quantiles.shape == (400, 3)
        and [m for m in net.module_.modules() if isinstance(m, torch.nn.Linear)][-1].out_features
        == 3
    )
    np.testing.assert_allclose(net.predict(X), quantiles[:, 1], rtol=1e-6)
    below = (y[:, None] < quantiles).mean(axis=0)
    assert below[0] < 0.25 and below[2] > 0.75, below
    with pytest.raises(ValueError, match="PinballLoss"):
        NeuralNetRegressor().predict_quantiles(X)


def _quantile_model(q):
    return QuantileRegressor(quantile=q, alpha=0.0, solver="highs")


def test_cqr_widens_the_quantile_band_by_the_calibration_rows_worst_miss(data):
    X, y, X_test, _ = data
    model = ConformalRegressor(
        _quantile_model(0.5), method="cqr", confidence_level=[0.8, 0.5], random_state=0
    ).fit(X, y)
    models = model.quantile_models_
    assert models.quantiles == (0.1, 0.25, 0.5, 0.75, 0.9)
    # By hand, from the fitted quantile models and the calibration rows they did not see.
    _, X_cal, _, y_cal = train_test_split(
        X, y, test_size=0.3, random_state=int(draw_seeds(check_random_state(0), 2)[0])
    )
    for j, (level, low_q, high_q) in enumerate([(0.8, 0.1, 0.9), (0.5, 0.25, 0.75)]):
        low = models.models[models.quantiles.index(low_q)]
        high = models.models[models.quantiles.index(high_q)]
        assert low.quantile == low_q and high.quantile == high_q
        misses = np.maximum(low.predict(X_cal) - y_cal, y_cal - high.predict(X_cal))
        half = np.sort(misses)[int(np.ceil(level * (len(misses) + 1))) - 1]
        expected = np.stack([low.predict(X_test) - half, high.predict(X_test) + half], axis=1)
        np.testing.assert_allclose(model.predict_interval(X_test)[..., j], expected)
    with pytest.raises(ValueError, match="fit with confidence_level including them"):
        model.predict_interval(X_test, confidence_level=0.9)
    # Narrowed past its middle (every calibration row deep inside its band), an interval
    # is the band's middle point, never a lower bound above the upper one.
    inside = ConformalRegressor(_quantile_model(0.5), method="cqr", random_state=0).fit(X, y)
    inside.conformity_scores_ = np.full_like(inside.conformity_scores_, -1e6)
    point = inside.predict_interval(X_test)
    low, high = inside.quantile_models_.band(inside.quantile_models_(X_test), 0.9)
    np.testing.assert_allclose(point, np.stack([(low + high) / 2] * 2, axis=1))
    # Too few calibration rows for the level: infinite bounds, never NaN.
    few = ConformalRegressor(_quantile_model(0.5), method="cqr", calibration_size=5)
    with pytest.warns(UserWarning, match="too few"):
        few.fit(X, y)
    bounds = few.predict_interval(X_test)
    assert np.all(bounds[:, 0] == -np.inf) and np.all(bounds[:, 1] == np.inf)


def test_cqr_is_narrower_than_split_where_the_noise_grows(data):
    from sklearn.ensemble import HistGradientBoostingRegressor

    rng = np.random.RandomState(0)
    X = rng.uniform(-3, 3, (3000, 1))
    y = np.sin(X[:, 0]) + np.abs(X[:, 0]) * rng.normal(size=3000)
    base = HistGradientBoostingRegressor(max_iter=50, random_state=0)
    split = ConformalRegressor(base, random_state=0).fit(X[:1500], y[:1500])
    quantile = base.set_params(loss="quantile")
    cqr = ConformalRegressor(quantile, method="cqr", random_state=0).fit(X[:1500], y[:1500])
    intervals = {"split": split.predict_interval(X[1500:]), "cqr": cqr.predict_interval(X[1500:])}
    for found in intervals.values():
        assert coverage_score(y[1500:], found) > 0.87
    ratio = mean_width_score(y[1500:], intervals["cqr"]) / mean_width_score(
        y[1500:], intervals["split"]
    )
    assert ratio < 0.95, ratio


def test_cqr_trains_one_net_for_every_quantile(data):
    X, y, X_test, _ = data
    net = NeuralNetRegressor(max_epochs=5, lr=0.01, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ConformalRegressor(net, method="cqr", confidence_level=[0.5, 0.9], random_state=0)
        model.fit(X, y)
    fitted = model.quantile_models_.net
    assert fitted.predicts_quantiles() and fitted.criterion_.quantiles == (
        0.05,
        0.25,
        0.5,
        0.75,
        0.95,
    )
    assert len(fitted.history) == 5  # one fit: five epochs
    intervals = model.predict_interval(X_test)
    assert intervals.shape == (100, 2, 2) and np.all(intervals[:, 0] <= intervals[:, 1])
    # The fitted net, prefit, calibrates to the same intervals on the same rows.
    _, X_cal, _, y_cal = train_test_split(
        X, y, test_size=0.3, random_state=int(draw_seeds(check_random_state(0), 2)[0])
    )
    prefit = ConformalRegressor(fitted, method="cqr", confidence_level=[0.5, 0.9], prefit=True)
    np.testing.assert_allclose(prefit.fit(X_cal, y_cal).predict_interval(X_test), intervals)
    with pytest.raises(ValueError, match=r"criterion__quantiles=\[0.025"):
        ConformalRegressor(fitted, method="cqr", confidence_level=0.95, prefit=True).fit(X, y)
    with pytest.raises(TypeError, match="quantile parameter"):
        ConformalRegressor(LinearRegression(), method="cqr").fit(X, y)


def test_jackknife_ab_fits_the_bagging_ensemble_once_and_nothing_else(data, monkeypatch):
    X, y, X_test, _ = data
    fits = []
    original = BaggingRegressor.fit
    monkeypatch.setattr(
        BaggingRegressor, "fit", lambda self, *a, **k: fits.append(self) or original(self, *a, **k)
    )
    member_fits = []
    tree_fit = DecisionTreeRegressor.fit
    monkeypatch.setattr(
        DecisionTreeRegressor, "fit",
        lambda self, *a, **k: member_fits.append(self) or tree_fit(self, *a, **k),
    )  # fmt: skip
    bagging = BaggingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=20, random_state=0)
    model = ConformalRegressor(bagging, method="jackknife_plus_ab", confidence_level=0.8)
    model.fit(X, y)
    model.predict_interval(X_test)
    assert len(fits) == 1 and len(member_fits) == 20  # the bagging fit, its 20 members: no more


def test_a_regression_study_reports_the_conformal_coverage_of_every_model(tmp_path):
    from ensemblekit.experiment import Experiment

    study_file = tmp_path / "study.toml"
    study_file.write_text(
        'name = "intervals"\nrandom_state = 0\n'
        '[data]\nloader = "sklearn.datasets.load_diabetes"\n[cv]\nn_splits = 2\n'
        '[models.ridge]\nclass = "sklearn.linear_model.Ridge"\n'
        '[models.tree]\nclass = "sklearn.tree.DecisionTreeRegressor"\nmax_depth = 3\n'
        "[analyses.conformal]\nlevels = [0.8, 0.5]\n"
    )
    study = Experiment.from_toml(study_file)
    study.verbose = 0
    run = study.run(tmp_path / "run").run_
    result = run.analyses["conformal"]
    assert result.names == ["ridge", "tree"] and result.coverage.shape == (2, 2)
    np.testing.assert_array_equal(result.levels, [0.5, 0.8])  # sorted
    assert np.all(result.size[:, 0] < result.size[:, 1])  # wider at the higher level
    html = run.report(tmp_path / "report.html").read_text()
    assert "Conformal intervals of ridge, tree" in html and "mean width" in html


def test_an_unseeded_bagging_ensemble_is_seeded_from_random_state(data):
    X, y, X_test, _ = data
    bagging = BaggingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=25)
    intervals = [
        ConformalRegressor(bagging, method="jackknife_plus_ab", random_state=seed)
        .fit(X, y)
        .predict_interval(X_test)
        for seed in (0, 0, 1)
    ]  # fmt: skip
    np.testing.assert_array_equal(intervals[0], intervals[1])
    assert not np.array_equal(intervals[0], intervals[2])
