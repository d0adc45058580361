"""CV ensembles, nested CV, paired comparisons and search helpers (issue 5)."""

import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    RandomizedSearchCV,
    RepeatedStratifiedKFold,
    StratifiedKFold,
    cross_val_predict,
    cross_val_score,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ensemblekit.ensemble import CVEnsembleClassifier, CVEnsembleRegressor
from ensemblekit.model_selection import (
    SearchBorderWarning,
    check_search_border,
    compare_models,
    corrected_resampled_ttest,
    mcnemar_test,
    nested_cross_validate,
    paired_ttest_5x2cv,
    top_k_ensemble,
)
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _logistic():
    return LogisticRegression(max_iter=1000)


# ---------------------------------------------------------------- CV ensembles
def test_oof_predictions_equal_cross_val_predict(cancer):
    X, y = cancer
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    ens = CVEnsembleClassifier(_logistic(), cv=cv).fit(X, y)
    expected = cross_val_predict(_logistic(), X, y, cv=cv, method="predict_proba")
    np.testing.assert_allclose(ens.oof_predictions_, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ens.cv_scores_, cross_val_score(_logistic(), X, y, cv=cv))
    Xr, yr = load_diabetes(return_X_y=True)
    reg = CVEnsembleRegressor(Ridge(), cv=KFold(4, shuffle=True, random_state=0)).fit(Xr, yr)
    expected = cross_val_predict(Ridge(), Xr, yr, cv=KFold(4, shuffle=True, random_state=0))
    np.testing.assert_allclose(reg.oof_predictions_, expected, rtol=0, atol=1e-9)


def test_seeded_learners_keep_their_seed_like_cross_val_predict(cancer):
    X, y = cancer
    tree = DecisionTreeClassifier(max_features=3, random_state=7)
    ens = CVEnsembleClassifier(tree, cv=3).fit(X, y)
    np.testing.assert_array_equal(
        ens.oof_predictions_, cross_val_predict(tree, X, y, cv=3, method="predict_proba")
    )


def test_repeated_folds_average_the_out_of_fold_predictions(cancer):
    X, y = cancer
    cv = RepeatedStratifiedKFold(n_splits=3, n_repeats=2, random_state=0)
    ens = CVEnsembleClassifier(_logistic(), cv=cv).fit(X, y)
    assert len(ens) == 6
    splits = list(cv.split(X, y))
    per_repeat = []
    for repeat in (splits[:3], splits[3:]):
        oof = np.zeros((len(X), 2))
        for train, test in repeat:
            oof[test] = clone(_logistic()).fit(X[train], y[train]).predict_proba(X[test])
        per_repeat.append(oof)
    np.testing.assert_allclose(ens.oof_predictions_, np.mean(per_repeat, axis=0), atol=1e-12)


def test_group_kfold_keeps_groups_apart_and_works_in_a_pipeline(cancer):
    X, y = cancer
    groups = np.arange(len(X)) % 7
    pipe = make_pipeline(StandardScaler(), CVEnsembleClassifier(_logistic(), cv=GroupKFold(3)))
    pipe.fit(X, y, cvensembleclassifier__groups=groups)
    for train, test in pipe[-1].splits_:
        assert not set(groups[train]) & set(groups[test])


def test_prediction_is_the_mean_of_fold_members_or_the_refit_one(cancer):
    X, y = cancer
    ens = CVEnsembleClassifier(_logistic(), cv=4).fit(X, y)
    np.testing.assert_allclose(
        ens.predict_proba(X), np.mean([m.predict_proba(X) for m in ens], axis=0)
    )
    refit = CVEnsembleClassifier(_logistic(), cv=4, refit=True).fit(X, y)
    full = _logistic().fit(X, y)
    np.testing.assert_allclose(refit.predict_proba(X), full.predict_proba(X), atol=1e-12)
    np.testing.assert_allclose(refit.oof_predictions_, ens.oof_predictions_)


@pytest.mark.parametrize("engine", ["vectorized", "joblib"])
def test_cv_ensemble_of_nets_is_deterministic_across_n_jobs(digits, tiny_net_params, engine):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params)
    one = CVEnsembleClassifier(net, cv=3, random_state=0, engine=engine).fit(X, y)
    two = CVEnsembleClassifier(net, cv=3, random_state=0, n_jobs=2, engine=engine).fit(X, y)
    np.testing.assert_array_equal(one.oof_predictions_, two.oof_predictions_)
    search = GridSearchCV(
        CVEnsembleClassifier(net, cv=2, random_state=0), {"estimator__lr": [1e-3, 1e-2]}, cv=2
    ).fit(X, y)
    assert search.best_params_["estimator__lr"] in (1e-3, 1e-2)


def test_a_fold_missing_a_class_is_an_error():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="fold 0 have no samples of classes \\[0\\]"):
        CVEnsembleClassifier(_logistic(), cv=KFold(3)).fit(X, y)


# ---------------------------------------------------------------- paired tests
def test_5x2cv_t_and_f_equal_mlxtend(cancer):
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    X, y = cancer
    a, b = _logistic(), DecisionTreeClassifier(max_depth=2, random_state=0)
    for seed in (1, 2):
        t = paired_ttest_5x2cv(a, b, X, y, random_state=seed)
        np.testing.assert_allclose(
            tuple(t), mlxtend.paired_ttest_5x2cv(a, b, X, y, random_seed=seed)
        )
        f = paired_ttest_5x2cv(a, b, X, y, random_state=seed, variant="f")
        np.testing.assert_allclose(
            tuple(f), mlxtend.combined_ftest_5x2cv(a, b, X, y, random_seed=seed)
        )
    assert t.statistic != 0


def test_mcnemar_equals_mlxtend_and_the_exact_binomial():
    mlxtend = pytest.importorskip("mlxtend.evaluate")
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 300)
    p1 = np.where(rng.rand(300) < 0.85, y, 1 - y)
    p2 = np.where(rng.rand(300) < 0.75, y, 1 - y)
    table = mlxtend.mcnemar_table(y_target=y, y_model1=p1, y_model2=p2)
    chi2, p = mlxtend.mcnemar(table, exact=False, corrected=True)
    ours = mcnemar_test(y, p1, p2, exact=False)
    assert ours.statistic == pytest.approx(chi2) and ours.pvalue == pytest.approx(p)
    _, p_exact = mlxtend.mcnemar(table, exact=True)
    assert mcnemar_test(y, p1, p2, exact=True).pvalue == pytest.approx(p_exact)
    # Few disagreements: exact by default. b = 1, c = 7: p = 2 * P(Bin(8, 1/2) <= 1) = 18/256.
    y = np.zeros(20, dtype=int)
    p1 = np.r_[np.ones(7, dtype=int), np.zeros(13, dtype=int)]
    p2 = np.r_[np.zeros(19, dtype=int), 1]
    r = mcnemar_test(y, p1, p2)
    assert (r.statistic, r.pvalue) == (1.0, pytest.approx(18 / 256))
    assert tuple(mcnemar_test(y, y, y)) == (0.0, 1.0)


def test_corrected_resampled_ttest_by_hand():
    d = np.array([0.02, 0.01, 0.03, 0.00, 0.04])
    # mean 0.02, var 2.5e-4, correction 1/5 + 20/80 = 0.45: t = 0.02 / sqrt(1.125e-4)
    r = corrected_resampled_ttest(d, n_train=80, n_test=20)
    assert r.statistic == pytest.approx(0.02 / np.sqrt(1.125e-4))
    assert r.pvalue == pytest.approx(2 * stats.t.sf(r.statistic, 4))
    same = corrected_resampled_ttest(d + 0.5, np.full(5, 0.5), n_train=80, n_test=20)
    assert same.statistic == pytest.approx(r.statistic)
    naive = stats.ttest_1samp(d, 0.0)
    assert r.pvalue > naive.pvalue  # the correction is more cautious
    with pytest.raises(ValueError, match="at least 2 paired scores"):
        corrected_resampled_ttest([0.1], n_train=8, n_test=2)


def test_compare_models_table(cancer):
    X, y = cancer
    models = {"logistic": _logistic(), "stump": DecisionTreeClassifier(max_depth=1)}
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=0)
    table = compare_models(models, X, y, cv=cv)
    assert [r.name for r in table] == ["logistic", "stump"]
    best, other = table
    assert (best.pvalue, best.diff, best.significant) == (1.0, 0.0, False)
    splits = list(cv.split(X, y))
    n_test = np.mean([len(test) for _, test in splits])
    n_train = len(X) - n_test
    expected = corrected_resampled_ttest(best.scores, other.scores, n_train=n_train, n_test=n_test)
    assert other.pvalue == pytest.approx(expected.pvalue, rel=1e-9)
    assert other.pvalue_adjusted == other.pvalue  # one comparison: Holm changes nothing
    inflation = 1 / 10 + n_test / n_train
    half = stats.t.ppf(0.975, 9) * np.sqrt(inflation * best.scores.var(ddof=1))
    assert best.ci_low == pytest.approx(best.mean - half)
    d = other.scores - best.scores
    half_d = stats.t.ppf(0.975, 9) * np.sqrt(inflation * d.var(ddof=1))
    assert other.diff == pytest.approx(d.mean())
    assert (other.diff_low, other.diff_high) == pytest.approx(
        (d.mean() - half_d, d.mean() + half_d)
    )
    np.testing.assert_allclose(best.scores, cross_val_score(_logistic(), X, y, cv=cv))
    frame = table.to_frame()
    assert list(frame.columns) == [
        "mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high", "pvalue",
        "pvalue_adjusted", "significant",
    ]  # fmt: skip
    assert "vs best" in str(table) and table.summary in str(table).replace("\n", " ")
    with pytest.raises(ValueError, match="test must be"):
        compare_models(models, X, y, test="wilcoxon")


def test_holm_adjusts_as_worked_by_hand():
    from ensemblekit.model_selection._significance import holm

    # sorted: 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> kept monotone at 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.001]), [0.5, 0.002])
    np.testing.assert_allclose(holm([0.6, 0.7]), [1.0, 1.0])  # capped at 1


def _crafted(scores, *, scoring="accuracy", correction="holm"):
    """A table from fold scores given by hand (10 folds of 90 train, 10 test rows)."""
    from ensemblekit.metrics import score_limits
    from ensemblekit.model_selection._comparison_table import _table

    return _table(
        {name: np.asarray(s, dtype=float) for name, s in scores.items()}, scoring=scoring,
        limits=score_limits(scoring, None), test="corrected_ttest", confidence_level=0.95,
        correction=correction, n_train=90, n_test=10,
    )  # fmt: skip


def test_compare_models_says_when_no_model_is_significantly_ahead():
    rng = np.random.default_rng(0)
    base = 0.9 + 0.02 * rng.standard_normal(10)
    tied = _crafted({"a": base + 0.004, "b": base + 0.01 * rng.standard_normal(10)})
    assert not tied[1].significant and tied[1].diff_low < 0 < tied[1].diff_high
    assert tied.summary.startswith("No model is significantly ahead: 'a' has the best mean")
    ahead = _crafted({"a": base, "b": base - 0.1 + 0.001 * rng.standard_normal(10)})
    assert ahead.summary == (
        "'a' is significantly ahead of every other model on accuracy (Holm-adjusted p < 0.05)."
    )
    alternating = np.tile([1.0, -1.0], 5)
    mixed = _crafted(
        {"a": base, "b": base - 0.1 + 1e-3 * np.arange(10), "c": base - 0.002 + 0.01 * alternating}
    )
    assert "ahead of 'b' on accuracy" in mixed.summary
    assert "but its lead over 'c' is within the noise" in mixed.summary
    assert "p (holm)" in str(mixed) and "*" in str(mixed)
    assert _crafted({"a": base}).summary.startswith("Only one model, 'a'")


def test_holm_can_turn_a_lone_significant_p_into_a_tie():
    base = 0.8 + 0.03 * np.random.default_rng(3).standard_normal(10)
    # Differences to the best of mean -m and sd 0.0105: t = m / 0.00484, on 9 df.
    noise = 0.01 * np.tile([1.0, -1.0], 5)
    scores = {"best": base, "x": base - 0.0121 + noise, "y": base - 0.002 + noise}
    scores["z"] = base - 0.004 + noise
    plain, adjusted = _crafted(scores, correction=None), _crafted(scores)
    raw = np.array([row.pvalue for row in plain[1:]])
    # Chosen so that one raw p is below 0.05 and its Holm-adjusted p is not.
    assert (raw < 0.05).sum() == 1 and not any(row.significant for row in adjusted)
    np.testing.assert_allclose([r.pvalue_adjusted for r in adjusted[1:]], _holm_by_hand(raw))
    assert "Holm-adjusted p >= 0.05" in adjusted.summary


def _holm_by_hand(p):
    m, order, out, running = len(p), np.argsort(p), np.empty(len(p)), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def test_compare_models_intervals_stay_inside_the_metric_range():
    near_one = [1, 1, 1, 1, 1, 1, 1, 1, 1, 0.8]
    table = _crafted({"a": near_one, "b": np.array(near_one) - 0.05})
    assert table[0].ci_high == 1.0 and table[0].mean + 0.01 > 0.98
    losses = _crafted({"a": [-0.01] * 9 + [-0.3], "b": [-0.2] * 10}, scoring="neg_log_loss")
    assert losses[0].ci_high == 0.0
    free = _crafted({"a": near_one, "b": near_one}, scoring="my_score")
    assert free[0].ci_high > 1  # a scorer of unknown range is not clipped
    assert free[1].pvalue == 1.0 and free[1].diff_low == free[1].diff_high == 0.0


def test_compare_models_with_several_scorers_equals_one_at_a_time(cancer):
    X, y = cancer
    models = [("logistic", _logistic()), ("stump", DecisionTreeClassifier(max_depth=1))]
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    tables = compare_models(models, X, y, cv=cv, scoring=["accuracy", "neg_log_loss"])
    assert list(tables) == ["accuracy", "neg_log_loss"]
    for name in tables:
        alone = compare_models(dict(models), X, y, cv=cv, scoring=name)
        assert tables[name] == alone and tables[name].scoring == name
    frame = tables.to_frame()
    assert frame.index.names == ["scoring", "model"] and len(frame) == 4
    assert str(tables).count("folds; 95% intervals") == 2


class _NeverFit(DecisionTreeClassifier):
    def fit(self, X, y, sample_weight=None):
        raise AssertionError("compare_models fitted before checking its arguments")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"estimators": [_NeverFit()]}, TypeError, "must name its models: pass a dict"),
        ({"estimators": {}}, ValueError, "estimators is empty"),
        ({"estimators": [("a", _NeverFit()), ("a", _NeverFit())]}, ValueError, "repeated names"),
        (
            {"estimators": {"a": "tree"}},
            TypeError,
            r"estimators\['a'\] is 'tree', which has no fit",
        ),
        ({"scoring": "acuracy"}, ValueError, "did you mean 'accuracy'"),
        ({"scoring": ["accuracy", "log_loss"]}, ValueError, "did you mean 'neg_log_loss'"),
        ({"scoring": []}, ValueError, "scoring is empty"),
        ({"correction": "fdr"}, ValueError, "correction must be 'holm'"),
        ({"engine": "stacked"}, ValueError, "engine must be 'auto', 'joblib' or 'vectorized'"),
        ({"cv": [(np.arange(50), np.arange(50, 100))]}, ValueError, "at least 2"),
    ],
)
def test_compare_models_checks_every_argument_before_any_fit(binary, kwargs, error, match):
    X, y = binary
    arguments = {"estimators": {"a": _NeverFit(), "b": _NeverFit()}, **kwargs}
    with pytest.raises(error, match=match):
        compare_models(arguments.pop("estimators"), X[:100], y[:100], **arguments)


def test_comparison_display_draws_scores_and_differences(cancer):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from ensemblekit.model_selection import ComparisonDisplay

    X, y = cancer
    models = {"logistic": _logistic(), "stump": DecisionTreeClassifier(max_depth=1)}
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    with pytest.raises(ValueError, match="kind must be 'scores' or 'difference'"):
        ComparisonDisplay.from_estimators(models, X, y, cv=cv, kind="box")
    display = ComparisonDisplay.from_estimators(models, X, y, cv=cv, scoring="accuracy")
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    heights = dict(zip(labels, display.ax_.get_yticks(), strict=True))
    assert heights["logistic"] > heights["stump"]  # the best on top
    assert "accuracy per fold (4 folds)" in display.ax_.get_xlabel()
    tables = compare_models(models, X, y, cv=cv, scoring=["accuracy", "roc_auc"])
    displays = tables.plot(kind="difference")
    assert list(displays) == ["accuracy", "roc_auc"]
    texts = [t.get_text() for t in displays["roc_auc"].ax_.texts]
    assert texts[0] == "best" and texts[1].startswith("p (holm) = ")
    with pytest.raises(TypeError, match="pick one"):
        ComparisonDisplay(tables)
    plt.close("all")


# ---------------------------------------------------------------- nested CV
def test_nested_cv_equals_an_explicit_loop_and_runs_in_parallel():
    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(SVC(), {"C": [0.1, 1, 10]}, cv=3)
    result = nested_cross_validate(
        search, X, y, outer_cv=StratifiedKFold(4, shuffle=True, random_state=0)
    )
    manual = []
    for train, test in StratifiedKFold(4, shuffle=True, random_state=0).split(X, y):
        fitted = clone(search).fit(X[train], y[train])
        manual.append((fitted.score(X[test], y[test]), fitted.best_params_, fitted.best_score_))
    np.testing.assert_allclose(result.outer_scores, [m[0] for m in manual])
    assert result.best_params == [m[1] for m in manual]
    np.testing.assert_allclose(result.inner_best_scores, [m[2] for m in manual])
    parallel = nested_cross_validate(
        search, X, y, outer_cv=StratifiedKFold(4, shuffle=True, random_state=0), n_jobs=2
    )
    np.testing.assert_array_equal(parallel.outer_scores, result.outer_scores)
    assert "NestedCVResult(outer=" in repr(result)


def test_nested_cv_errors():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="must be a scikit-learn hyper-parameter search"):
        nested_cross_validate(SVC(), X, y)
    with pytest.raises(ValueError, match="refit=True"):
        nested_cross_validate(GridSearchCV(SVC(), {"C": [1]}, refit=False), X, y)


# ---------------------------------------------------------------- search helpers
def test_top_k_ensemble_takes_the_best_candidates(cancer):
    X, y = cancer
    grid = {"C": [1e-3, 1e-2, 0.1, 1.0]}
    search = GridSearchCV(_logistic(), grid, cv=3).fit(X, y)
    ens = top_k_ensemble(search, k=2, X=X, y=y)
    ranks = search.cv_results_["rank_test_score"]
    best_two = [search.cv_results_["params"][i]["C"] for i in np.argsort(ranks, kind="stable")[:2]]
    assert [est.C for _, est in ens.estimators] == best_two
    assert ens.voting == "soft" and ens.score(X, y) > 0.9
    assert not hasattr(top_k_ensemble(search, k=1).estimators[0][1], "coef_")
    Xr, yr = load_diabetes(return_X_y=True)
    reg_search = GridSearchCV(Ridge(), {"alpha": [0.1, 1.0]}, cv=3).fit(Xr, yr)
    assert type(top_k_ensemble(reg_search, k=2)).__name__ == "VotingRegressor"
    with pytest.raises(
        ValueError,
        match=r"k must be an integer in \[1, 4\] \(the search tried 4 candidates\), got 5",
    ):
        top_k_ensemble(search, k=5)
    with pytest.raises(ValueError, match="is not fitted"):
        top_k_ensemble(GridSearchCV(_logistic(), grid))


def test_check_search_border_grid_and_distributions(cancer):
    X, y = cancer
    edge = GridSearchCV(_logistic(), {"C": [1e-5, 1e-4, 1e-3]}, cv=3).fit(X, y)
    with pytest.warns(SearchBorderWarning, match="best C=0.001 lies on the high edge") as record:
        assert check_search_border(edge) is None  # said once: as a warning
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # or once: as the returned list
        findings = check_search_border(edge, warn=False)
    assert findings[0].suggestion.startswith("widen it on a log scale, e.g. [1e-05, 0.01]")
    inside = GridSearchCV(_logistic(), {"C": [1e-5, 1.0, 1e5]}, cv=3).fit(X, y)
    if inside.best_params_["C"] == 1.0:
        assert check_search_border(inside, warn=False) == []
    depth = GridSearchCV(DecisionTreeRegressor(random_state=0), {"max_depth": [1, 2]}, cv=3)
    depth.fit(*load_diabetes(return_X_y=True))
    if depth.best_params_["max_depth"] == 2:
        assert check_search_border(depth, warn=False)[0].suggestion == "extend it, e.g. [1, 3]"
    randomized = RandomizedSearchCV(
        _logistic(), {"C": stats.loguniform(1e-5, 1e-3)}, n_iter=20, cv=3, random_state=0
    ).fit(X, y)
    assert check_search_border(randomized, margin=0.2, warn=False)[0].param == "C"
    with pytest.raises(ValueError, match="is not fitted"):
        check_search_border(GridSearchCV(_logistic(), {"C": [1.0]}))


class _FixedBest:
    """A fitted search stand-in: its best parameters and what it searched."""

    def __init__(self, estimator, grid, best):
        self.estimator, self.param_grid, self.best_params_ = estimator, grid, best
        self.cv_results_ = {}


@pytest.mark.parametrize(
    ("grid", "best", "suggestion"),
    [
        # max_samples accepts (0, 1] as a share: 1.0 is its limit, so nothing lies beyond.
        ({"estimator__max_samples": [0.5, 1.0]}, 1.0, None),
        ({"estimator__max_samples": [0.5, 0.75]}, 0.75, "extend it, e.g. [0.5, 0.875]"),
        # Whole numbers for n_estimators (5 + 1.5 rounds up), and not below 1.
        ({"estimator__n_estimators": [2, 5]}, 5, "extend it, e.g. [2, 7]"),
        ({"estimator__n_estimators": [1, 5]}, 1, None),
        ({"estimator__n_estimators": [2, 5]}, 2, "extend it, e.g. [1, 5]"),
        # A nested parameter's owner is found through the pipeline and the ensemble.
        ({"estimator__estimator__max_depth": [1, 3]}, 1, None),
    ],
)
def test_check_search_border_suggests_only_values_the_parameter_accepts(grid, best, suggestion):
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier

    from ensemblekit.ensemble import BaggingClassifier

    pipeline = Pipeline([("estimator", BaggingClassifier(DecisionTreeClassifier()))])
    search = _FixedBest(pipeline, grid, {next(iter(grid)): best})
    findings = check_search_border(search, warn=False)
    assert [f.suggestion for f in findings] == ([] if suggestion is None else [suggestion])


def test_a_table_reads_cleanly_no_negative_zero_and_p_values_in_one_style():
    from ensemblekit.experiment._report import _fmt
    from ensemblekit.model_selection import ComparisonTables

    scores = {
        "a": np.ones(4),
        "b": np.array([0.6, 0.61, 0.59, 0.604]),
        "c": np.array([1.0, 1.0, 1.0, 1.0 - 1e-9]),  # a difference that rounds to zero
    }
    text = str(ComparisonTables.from_scores({"accuracy": scores}, {"accuracy": (0.0, 1.0)},
                                            n_train=80, n_test=20)["accuracy"])  # fmt: skip
    assert "-0.0000" not in text and "+0.0000" in text
    p_values = [line.split()[-1].rstrip("*").strip() for line in text.splitlines()[3:5]]
    assert p_values[0].count(".") == 1 and len(p_values[0].split(".")[1]) == 3  # 0.530
    assert "e-0" in text.splitlines()[4]  # 1.5e-05, not 1.46e-05 beside 1
    assert _fmt(-1e-9, "+.4f") == "+0.0000" and _fmt(-1e-9, ".4f") == "0.0000"
    assert _fmt(float("-inf"), ".4f") == "-inf" and _fmt(1.0, "p") == "1.000"
    assert _fmt(1.46e-5, "p") == "1.5e-05"
