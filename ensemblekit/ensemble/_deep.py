"""Deep ensembles (Lakshminarayanan et al. 2017): clones that differ only by their seed."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator

from ..engine import MemberPlan
from ..utils._mixins import all_or_nothing
from ..utils._private import Interval
from ..utils._random import draw_seeds
from ._base import (
    ENGINE_DOC,
    RENAMED_COUNT,
    AveragingRegressorMixin,
    MemberEnsembleMixin,
    SoftVotingClassifierMixin,
    renamed_count,
    with_fit_params_doc,
)

_PARAMS_DOC = """

    Parameters
    ----------
    estimator : estimator or None, default=None
        What each member clones; None uses a default ``{net}``. Every ``random_state`` in
        it (nested ones too) is set from the member's seed, so members differ by weight
        initialisation, shuffling and dropout, and each trains on all the data.
    n_estimators : int, default=5
        Number of members (the paper uses 5).
    n_jobs : int or None, default=None
        Members fitted in parallel through joblib (under any ``parallel_config``).
    random_state : None, int or RandomState, default=None
        Seeds of the members, drawn up front: the same int gives the same members for any
        ``n_jobs`` and joblib backend.
    verbose : int, default=0
        > 0 shows a progress bar while members fit.
{engine}    n_members : int, default="deprecated"
        Former name of ``n_estimators``; it still works, with a ``FutureWarning``, until
        0.3."""


class _BaseDeepEnsemble(MemberEnsembleMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        **MemberEnsembleMixin._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_members": RENAMED_COUNT,
    }

    def __init__(
        self, estimator=None, n_estimators=5, *, n_jobs=None, random_state=None, verbose=0,
        engine="auto", n_members="deprecated",
    ):  # fmt: skip
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.n_members = n_members
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.engine = engine

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit ``n_estimators`` seeded clones of the estimator on all of X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every member.
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        fit_params = self._member_fit_params(fit_params)
        plans = [
            MemberPlan(int(seed), sample_weight=sample_weight)
            for seed in draw_seeds(self.random_state, renamed_count(self, "n_members"))
        ]
        self._fit_plans(X, y, plans, fit_params=fit_params)
        return self


class DeepEnsembleClassifier(SoftVotingClassifierMixin, _BaseDeepEnsemble):
    __doc__ = (
        """Deep ensemble of classifiers: seeded clones on all the data, soft voting.

    Lakshminarayanan et al. (2017): independently initialised and shuffled nets, averaged,
    are more accurate and better calibrated than one."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC, net="NeuralNetClassifier()")
        + """

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of estimators
        The fitted members (also ``len(ens)``, ``ens[i]``, iteration).
    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    DeepEnsembleRegressor : the same for regression.
    SnapshotEnsembleClassifier : members from one training run, for the cost of one.
    BaggingClassifier : members on bootstrap draws of the rows.
    ensemblekit.model_selection.predictive_uncertainty : split its uncertainty by source.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.ensemble import DeepEnsembleClassifier
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ens = DeepEnsembleClassifier(NeuralNetClassifier(max_epochs=5), n_estimators=3,
    ...                              random_state=0).fit(X, y)
    >>> len(ens), ens.predict_proba(X[:1]).shape
    (3, (1, 3))
    """
    )


class DeepEnsembleRegressor(AveragingRegressorMixin, _BaseDeepEnsemble):
    __doc__ = (
        """Deep ensemble of regressors: seeded clones on all the data, averaged.

    ``predict(X, return_std=True)`` also returns the spread of the members' predictions, a
    measure of the model uncertainty (Lakshminarayanan et al. 2017)."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC, net="NeuralNetRegressor()")
        + """

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of estimators
        The fitted members (also ``len(ens)``, ``ens[i]``, iteration).

    See Also
    --------
    DeepEnsembleClassifier : the same for classification.
    SnapshotEnsembleRegressor : members from one training run, for the cost of one.
    ensemblekit.nets.GaussianNLLLoss : members that predict a spread of their own.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.ensemble import DeepEnsembleRegressor
    >>> from ensemblekit.nets import NeuralNetRegressor
    >>> X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    >>> ens = DeepEnsembleRegressor(NeuralNetRegressor(max_epochs=5), n_estimators=3,
    ...                             random_state=0).fit(X, y / y.std())
    >>> mean, std = ens.predict(X[:2], return_std=True)
    >>> mean.shape, bool((std > 0).all())
    ((2,), True)
    """
    )

    def predict(self, X, return_std: bool = False):
        """Mean of the members' predictions, and optionally their standard deviation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return a standard deviation. For members trained with
            ``GaussianNLLLoss``, that of the mixture of their Gaussians
            (Lakshminarayanan et al. 2017): ``sigma^2 = mean_i (s_i^2 + m_i^2) - mu^2``,
            the noise they predict plus their disagreement. For other members, the spread
            of their predictions (ddof=0), which counts the disagreement only.

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray of the same shape, only when ``return_std=True``
        """
        if return_std:
            means, stds = self.predict_members(X, return_std=True)
            if stds is not None:
                variances = stds**2
                # mean(s^2 + m^2) - mu^2, written as mean(s^2) + var(m): no cancellation.
                return means.mean(axis=0), np.sqrt(variances.mean(axis=0) + means.var(axis=0))
        predictions = self.predict_members(X)
        mean = predictions.mean(axis=0)
        return (mean, predictions.std(axis=0)) if return_std else mean
