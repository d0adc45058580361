"""The one fold loop: a model fitted on every (train, test) split through the member engine,
scored on each test fold, and, on request, predicted out of fold."""

from __future__ import annotations

import numpy as np

from ..metrics import check_scoring
from ..utils._fit_warnings import warnings_of
from ..utils._proba import align_proba
from ..utils._random import draw_seeds
from ._members import MemberPlan, fit_members


def cross_fit(
    estimator, X, y, splits, *, sample_weight=None, scoring=None, n_jobs=None, verbose=0,
    random_state=None, n_classes=None, engine="auto", fit_params=None, predictions=True,
    folds=None, on_fold=None,
):  # fmt: skip
    """Fit ``estimator`` on every split, score each fold and predict out of fold.

    The fold loop of every ensemblekit tool that cross-validates: one member per
    ``(train, test)`` split, fitted by :func:`fit_members` (a net's folds train stacked).
    An ``estimator`` whose ``random_state`` is set keeps it; an unset one gets a seed per
    fold drawn from ``random_state``, so the same models, splits and ``random_state`` give
    the same fold scores everywhere (in a study too).

    Parameters
    ----------
    estimator : estimator
        Cloned once per split.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    splits : list of (train, test) index arrays
        As ``list(cv.split(X, y))`` gives them.
    sample_weight : array-like of shape (n_samples,), default=None
        Each member gets its training rows' weights.
    scoring : str, callable, list or dict, default=None
        As scikit-learn's ``check_scoring`` takes it; None uses the estimator's ``score``.
    n_jobs, verbose : int, default=None, 0
    random_state : None, int or RandomState, default=None
    n_classes : int or None, default=None
        For a classifier trained on labels encoded ``0..n_classes-1``: out-of-fold
        probabilities in those columns. None: out-of-fold ``predict``.
    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How the members train (see :func:`fit_members`).
    fit_params : dict, default=None
        Passed to every member's ``fit``, per-row ones at its training rows.
    predictions : bool, default=True
        Whether to compute the out-of-fold predictions.
    folds : list of int, default=None
        The splits to fit (None: all). A fold's seed does not depend on which others are
        fitted: a run that resumes fits its missing folds and gets what a whole run would.
    on_fold : callable, default=None
        ``on_fold(fold, member, score)``, called in this process as soon as each fold's
        member is fitted and scored, while the others still train (a study writes each
        fold's record there).

    Returns
    -------
    members : list of estimators
        The fitted member of each split in ``folds``.
    scores : ndarray of shape (n_folds,), or dict of str to such arrays
        Each fold's score on its test rows (a dict when ``scoring`` names several).
    oof : ndarray or None
        The out-of-fold predictions, averaged over repeated splits (NaN for a row no
        split tests); None when ``predictions=False``.

    See Also
    --------
    fit_members : the member engine under it.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.engine import cross_fit
    >>> X, y = load_iris(return_X_y=True)
    >>> splits = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    >>> members, scores, oof = cross_fit(DecisionTreeClassifier(), X, y, splits,
    ...                                  random_state=0, n_classes=3)
    >>> len(members), scores.shape, oof.shape
    (3, (3,), (150, 3))
    """
    seeds = draw_seeds(random_state, len(splits))
    folds = list(range(len(splits)) if folds is None else folds)
    weights = [None if sample_weight is None else sample_weight[splits[f][0]] for f in folds]
    plans = [
        MemberPlan(int(seeds[fold]), rows=splits[fold][0], sample_weight=weight)
        for fold, weight in zip(folds, weights, strict=True)
    ]
    scorer = check_scoring(estimator, scoring=scoring)
    raw = [None] * len(folds)

    def score(indices, fitted):
        for i, member in zip(indices, fitted, strict=True):
            test = splits[folds[i]][1]
            raw[i] = scorer(member, X[test], y[test])
            if on_fold is not None:
                on_fold(folds[i], member, raw[i])

    with warnings_of(noun="folds"):  # one warning per kind, its fits counted as folds
        members = fit_members(
            estimator, X, y, plans, n_jobs=n_jobs, verbose=verbose, reseed="unset",
            engine=engine, fit_params=fit_params, on_fitted=None if on_fold is None else score,
        )  # fmt: skip
    if on_fold is None:
        score(range(len(members)), members)
    splits = [splits[fold] for fold in folds]
    oof = _out_of_fold(members, X, splits, n_classes) if predictions else None
    return members, _by_scorer(raw), oof


def _by_scorer(raw: list):
    """The folds' scores as an array, or a dict of arrays by name for several scorers."""
    if isinstance(raw[0], dict):
        return {name: np.array([r[name] for r in raw]) for name in raw[0]}
    return np.array(raw)


def _out_of_fold(members, X, splits, n_classes) -> np.ndarray:
    """Each row's prediction by the members whose test rows hold it (averaged over
    repeated splits; NaN for a row no split tests)."""
    total, seen = None, np.zeros(X.shape[0])
    for member, (_, test) in zip(members, splits, strict=True):
        if n_classes is not None:
            prediction = align_proba(
                member.predict_proba(X[test]), member.classes_, np.arange(n_classes)
            )
        else:
            prediction = np.asarray(member.predict(X[test]), dtype=float)
        if total is None:
            total = np.zeros((X.shape[0], *prediction.shape[1:]))
        total[test] += prediction
        seen[test] += 1
    with np.errstate(invalid="ignore"):
        return total / seen.reshape(-1, *[1] * (total.ndim - 1))
