"""Cross-validation ensembles: one member per fold, out-of-fold predictions, fold scores."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import check_cv

from ..engine import MemberPlan, cross_fit, fit_members
from ..utils._fit_warnings import warnings_of
from ..utils._mixins import all_or_nothing
from ..utils._proba import align_proba
from ..utils._random import draw_seeds
from ._base import (
    ENGINE_DOC,
    AveragingRegressorMixin,
    MemberEnsembleMixin,
    SoftVotingClassifierMixin,
    with_fit_params_doc,
)

_PARAMS_DOC = """

    Parameters
    ----------
    estimator : estimator or None, default=None
        What each fold's member clones; None uses a default ``{net}``. A ``random_state``
        it sets is kept in every fold; one left at None gets a seed per fold.
    cv : int, cross-validation splitter or iterable, default=5
        Any scikit-learn splitter: ``KFold``, ``StratifiedKFold`` (the default for an int,
        for classifiers), ``GroupKFold`` (pass ``groups`` to ``fit``),
        ``RepeatedStratifiedKFold`` (out-of-fold predictions are averaged over repeats).
    refit : bool, default=False
        Also fit one member on all the data and predict with it alone; the fold members
        still give ``oof_predictions_`` and ``cv_scores_``.
    scoring : str, callable or None, default=None
        Score of each fold's member on its test rows (``cv_scores_``); None uses the
        estimator's ``score``.
    n_jobs : int or None, default=None
        Members fitted in parallel through joblib (under any ``parallel_config``).
    random_state : None, int or RandomState, default=None
        Seeds of members whose ``random_state`` is unset.
    verbose : int, default=0
        > 0 shows a progress bar while members fit.
{engine}"""

_ATTRS_DOC = """

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of estimators
        One member per fold (also ``len(ens)``, ``ens[i]``, iteration).
    refit_estimator_ : estimator
        The member fitted on all rows (``refit=True``).
    cv_scores_ : ndarray of shape (n_splits,)
        Each fold member's score on its test rows.
    oof_predictions_ : ndarray
        Out-of-fold {oof} for every training row.
    splits_ : list of (train, test) index arrays
"""


class _BaseCVEnsemble(MemberEnsembleMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        **MemberEnsembleMixin._parameter_constraints,
        "cv": ["cv_object"],
        "refit": ["boolean"],
        "scoring": [str, callable, None],
    }

    def __init__(
        self, estimator=None, cv=5, *, refit=False, scoring=None, n_jobs=None, random_state=None,
        verbose=0, engine="auto",
    ):  # fmt: skip
        self.estimator = estimator
        self.cv = cv
        self.refit = refit
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.engine = engine

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, groups=None, **fit_params):
        """Fit one member per fold (and one on all rows with ``refit=True``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Each member gets the weights of its training rows.
        groups : array-like of shape (n_samples,), default=None
            Group labels for group splitters (``GroupKFold``).
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        fit_params = self._member_fit_params(fit_params)
        cv = check_cv(self.cv, y, classifier=self._is_classifier())
        self.splits_ = list(cv.split(X, y, groups))
        self._check_splits(y)
        template = self._template()
        self._check_template(template)
        fold_seed, refit_seed = draw_seeds(self.random_state, 2)
        n_classes = len(self.classes_) if self._is_classifier() else None
        with warnings_of(type(self).__name__):  # folds and refit: one warning per kind
            self.estimators_, self.cv_scores_, self.oof_predictions_ = cross_fit(
                template, X, y, self.splits_, sample_weight=sample_weight,
                scoring=self.scoring, n_jobs=self.n_jobs, verbose=self.verbose,
                random_state=int(fold_seed), n_classes=n_classes, engine=self.engine,
                fit_params=fit_params,
            )  # fmt: skip
            if self.refit:
                plan = MemberPlan(int(refit_seed), sample_weight=sample_weight)
                self.refit_estimator_ = fit_members(
                    template, X, y, [plan], reseed="unset", engine=self.engine,
                    fit_params=fit_params,
                )[0]  # fmt: skip
        return self

    def _check_splits(self, y) -> None:
        if not self._is_classifier():
            return
        for k, (train, _) in enumerate(self.splits_):
            missing = np.setdiff1d(np.arange(len(self.classes_)), y[train])
            if len(missing):
                raise ValueError(
                    f"The training rows of fold {k} have no samples of classes "
                    f"{self.classes_[missing].tolist()}; use StratifiedKFold or fewer splits."
                )


class CVEnsembleClassifier(SoftVotingClassifierMixin, _BaseCVEnsemble):
    __doc__ = (
        """Cross-validation ensemble of classifiers: one member per fold, soft voting.

    Trains a member on each fold's training rows (in parallel, through the member engine),
    keeps each member's out-of-fold probabilities for every training row
    (``oof_predictions_``, as ``cross_val_predict(method="predict_proba")`` gives) and its
    fold score, and predicts with the mean of the members' probabilities, or with one
    member refit on all rows (``refit=True``)."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC, net="NeuralNetClassifier()")
        + _ATTRS_DOC.format(oof="class probabilities, shape (n_samples, n_classes),")
        + """    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    CVEnsembleRegressor : the same for regression.
    BaggingClassifier : members on bootstrap draws instead of folds.
    ensemblekit.model_selection.top_k_ensemble : an ensemble of a search's best settings.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.ensemble import CVEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ens = CVEnsembleClassifier(LogisticRegression(max_iter=500), cv=5).fit(X, y)
    >>> len(ens), ens.oof_predictions_.shape, bool(ens.cv_scores_.mean() > 0.9)
    (5, (150, 3), True)
    """
    )

    def predict_proba(self, X):
        """Mean of the fold members' probabilities, or the refit member's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        if not self.refit:
            return super().predict_proba(X)
        X = self._validate_X(X)
        member = self.refit_estimator_
        return align_proba(member.predict_proba(X), member.classes_, np.arange(len(self.classes_)))


class CVEnsembleRegressor(AveragingRegressorMixin, _BaseCVEnsemble):
    __doc__ = (
        """Cross-validation ensemble of regressors: one member per fold, averaged.

    Trains a member on each fold's training rows (in parallel, through the member engine),
    keeps each member's out-of-fold predictions for every training row
    (``oof_predictions_``, as ``cross_val_predict`` gives) and its fold score, and predicts
    with the members' mean, or with one member refit on all rows (``refit=True``)."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC, net="NeuralNetRegressor()")
        + _ATTRS_DOC.format(oof="predictions")
        + """
    See Also
    --------
    CVEnsembleClassifier : the same for classification.
    BaggingRegressor : members on bootstrap draws instead of folds.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import Ridge
    >>> from ensemblekit.ensemble import CVEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> ens = CVEnsembleRegressor(Ridge(), cv=4).fit(X, y)
    >>> ens.cv_scores_.shape, ens.oof_predictions_.shape
    ((4,), (442,))
    """
    )

    def predict(self, X):
        """Mean of the fold members' predictions, or the refit member's.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        if not self.refit:
            return super().predict(X)
        X = self._validate_X(X)
        return self.refit_estimator_.predict(X)
