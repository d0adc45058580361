"""Honest comparisons of two or more models: every model on the same folds, paired tests
with the right variances, one table per scorer."""

from __future__ import annotations

import difflib

import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import (
    RepeatedKFold,
    RepeatedStratifiedKFold,
    check_cv,
)
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import cross_fit
from ..metrics import check_scoring, score_limits, scorer_names
from ..utils._fit_warnings import warnings_of
from ..utils._random import draw_seeds
from ..utils._routing import PARAMS_DOC, fill_doc, routed_fit_params
from ._comparison_table import ComparisonTable, ComparisonTables
from ._significance import _CORRECTIONS


def _check_estimators(estimators) -> dict:
    """A dict of name: estimator, or a list of (name, estimator) pairs, as Pipeline takes."""
    fix = (
        "pass a dict of name: estimator, e.g. {'logistic': LogisticRegression(), 'net': "
        "NeuralNetClassifier()}, or a list of (name, estimator) pairs"
    )
    if isinstance(estimators, dict):
        pairs = list(estimators.items())
    elif isinstance(estimators, list | tuple) and all(
        isinstance(p, tuple) and len(p) == 2 for p in estimators
    ):
        pairs = list(estimators)
        names = [name for name, _ in pairs]
        if len(set(names)) != len(names):
            raise ValueError(f"estimators has repeated names {names}; give each model its own.")
    else:
        raise TypeError(f"estimators must name its models: {fix}; got {estimators!r:.120}.")
    if not pairs:
        raise ValueError(f"estimators is empty: {fix}.")
    for name, estimator in pairs:
        if not isinstance(name, str):
            raise TypeError(f"estimators' names must be strings, got {name!r}: {fix}.")
        if not hasattr(estimator, "fit"):
            raise TypeError(
                f"estimators[{name!r}] is {estimator!r:.80}, which has no fit method: "
                "pass an unfitted scikit-learn estimator."
            )
    return dict(pairs)


def _check_scoring(scoring, estimators: dict) -> list[str] | None:
    """Validate ``scoring`` for every model before any fit; the scorer names when several."""
    multiple = isinstance(scoring, list | tuple | set | dict)
    names = list(scoring) if multiple else [scoring]
    if multiple and not names:
        raise ValueError("scoring is empty: pass a scorer name, a list of names or None.")
    known = scorer_names()
    for entry in scoring.values() if isinstance(scoring, dict) else names:
        if isinstance(entry, str) and entry not in known:
            close = difflib.get_close_matches(entry, known, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"scoring {entry!r} is not a scorer name; {hint}sklearn.metrics."
                "get_scorer_names() and ensemblekit.metrics.scorers list them (or pass a "
                "callable from make_scorer)."
            )
    for name, estimator in estimators.items():
        try:
            check_scoring(estimator, scoring=scoring)
        except (TypeError, ValueError) as error:
            raise type(error)(f"scoring for estimators[{name!r}]: {error}") from error
    return [str(n) for n in names] if multiple else None


def _scoring_label(scoring, estimator) -> str:
    if isinstance(scoring, str):
        return scoring
    if scoring is None:
        return "score (accuracy)" if is_classifier(estimator) else "score (R²)"
    return getattr(scoring, "__name__", repr(scoring))


@fill_doc(params=PARAMS_DOC)
def compare_models(
    estimators, X, y, *, cv=None, scoring=None, test: str = "corrected_ttest",
    confidence_level: float = 0.95, correction: str | None = "holm", n_jobs=None,
    random_state=None, engine: str = "auto", params=None,
) -> ComparisonTable | ComparisonTables:  # fmt: skip
    """Score several models on the same folds and say which differences are real.

    Every model is fitted on the same splits (in parallel, through the member engine).
    For each model the table gives its mean score with an interval, and its paired
    difference to the best model with an interval and a p-value. Folds share training
    rows, so both use Nadeau & Bengio's corrected variance ``(1/k + n_test/n_train) s^2``
    (``test="ttest"`` gives the plain paired t-test, which is too confident on CV folds).
    Comparing the best with m other models is m tests: the p-values are adjusted for that
    (Holm's method by default), and a plain sentence says which models the best is
    significantly ahead of, if any.

    Parameters
    ----------
    estimators : dict of str to estimator, or list of (str, estimator) pairs
        The models, by name. Each is cloned for every fold.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    cv : splitter, int or None, default=None
        None: ``RepeatedStratifiedKFold(5, 2)`` for classifiers, ``RepeatedKFold(5, 2)``
        otherwise, seeded by ``random_state``. Needs at least 2 splits.
    scoring : str, callable, list, tuple, set, dict or None, default=None
        As ``cross_validate`` takes it. One scorer gives one table; several (a list of
        names, or a dict of name: scorer) give one table per scorer. None uses each
        estimator's ``score``.
    test : {"corrected_ttest", "ttest"}, default="corrected_ttest"
    confidence_level : float, default=0.95
        Level of the intervals; ``1 - confidence_level`` is the significance level.
    correction : {"holm", "bonferroni"} or None, default="holm"
        Adjustment of the p-values against the best for the number of comparisons.
    n_jobs : int or None, default=None
    random_state : None or int, default=None
        Seeds the default splits and, per fold, the models whose ``random_state`` is
        unset: a study (:class:`ensemblekit.experiment.Experiment`) of the same models,
        splits and ``random_state`` gets the same fold scores.
    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How each model's folds train (see :func:`ensemblekit.engine.fit_members`): "auto"
        trains a net's folds stacked as one model when it can, "joblib" one fold per task.
    {params}

    Returns
    -------
    table : ComparisonTable or ComparisonTables
        For one scorer, a list of :class:`ComparisonRow` (``mean``, ``ci_low``,
        ``ci_high``, ``diff``, ``diff_low``, ``diff_high``, ``pvalue``,
        ``pvalue_adjusted``, ``significant``, ``scores``), best first, with ``summary``,
        ``to_frame()`` and ``plot()``. For several scorers, a dict of scorer name to table.

    See Also
    --------
    corrected_resampled_ttest : the test behind the p-values, for two models.
    paired_ttest_5x2cv : Dietterich's 5x2cv test, for two models.
    ComparisonDisplay : the table drawn.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.model_selection import compare_models
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> table = compare_models({"logistic": make_pipeline(StandardScaler(), LogisticRegression()),
    ...                         "tree": DecisionTreeClassifier(random_state=0)}, X, y,
    ...                        scoring="accuracy", random_state=0)
    >>> [row.name for row in table], table[1].significant
    (['logistic', 'tree'], True)
    >>> print(table.summary)  # doctest: +NORMALIZE_WHITESPACE
    'logistic' is significantly ahead of every other model on accuracy
    (Holm-adjusted p < 0.05).
    """
    if test not in ("corrected_ttest", "ttest"):
        raise ValueError(f"test must be 'corrected_ttest' or 'ttest', got {test!r}.")
    if correction not in _CORRECTIONS:
        raise ValueError(f"correction must be 'holm', 'bonferroni' or None, got {correction!r}.")
    if engine not in ("auto", "joblib", "vectorized"):
        raise ValueError(f"engine must be 'auto', 'joblib' or 'vectorized', got {engine!r}.")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must be in (0, 1), got {confidence_level!r}.")
    estimators = _check_estimators(estimators)
    names = _check_scoring(scoring, estimators)
    X = check_array(X, dtype=None, ensure_all_finite=False)
    y = column_or_1d(y)
    check_consistent_length(X, y)
    first = next(iter(estimators.values()))
    if cv is None:
        seed = int(draw_seeds(random_state, 1)[0])
        splitter = RepeatedStratifiedKFold if is_classifier(first) else RepeatedKFold
        cv = splitter(n_splits=5, n_repeats=2, random_state=seed)
    splits = list(check_cv(cv, y, classifier=is_classifier(first)).split(X, y))
    if len(splits) < 2:
        raise ValueError(f"cv gives {len(splits)} split; the tests need at least 2.")
    fit_params = {
        name: routed_fit_params("compare_models", est, params) for name, est in estimators.items()
    }
    n_test = float(np.mean([len(test) for _, test in splits]))
    n_train = float(np.mean([len(train) for train, _ in splits]))
    scores = {}
    for name, est in estimators.items():
        with warnings_of(label=repr(name)):  # its fit warnings name the model
            scores[name] = cross_fit(
                est, X, y, splits, scoring=scoring, n_jobs=n_jobs, random_state=random_state,
                engine=engine, fit_params=fit_params[name], predictions=False,
            )[1]  # fmt: skip
    by_scorer = (
        {_scoring_label(scoring, first): scores}
        if names is None
        else {n: {model: s[n] for model, s in scores.items()} for n in names}
    )
    limits = {
        label: score_limits(scoring if names is None else _entry(scoring, label), first)
        for label in by_scorer
    }
    tables = ComparisonTables.from_scores(
        by_scorer, limits, test=test, confidence_level=confidence_level,
        correction=correction, n_train=n_train, n_test=n_test,
    )  # fmt: skip
    return tables.popitem()[1] if names is None else tables


def _entry(scoring, name: str):
    """The scorer a multi-metric ``scoring`` gives for ``name``: the name or the callable."""
    return scoring[name] if isinstance(scoring, dict) else name
