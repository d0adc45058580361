"""AdaBoost of any estimator, nets included: SAMME for classifiers, AdaBoost.R2 for
regressors, stage by stage as scikit-learn's weight boosting.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import warn_user
from ..utils._mixins import PredictLogProbaMixin, all_or_nothing
from ..utils._private import HasMethods, Interval, StrOptions
from ..utils._proba import align_proba
from ..utils._random import check_random_state
from ..utils._validation import check_sample_weight, plain
from ._base import check_member_kind, with_fit_params_doc
from ._boosting import (
    _BoostingMixin,
    _fit_stage,
    _last,
    _small_net,
    _StagedClassifier,
    _StagedRegressor,
)


class _AdaBoostMixin(_BoostingMixin):
    """scikit-learn's weight-boosting loop; ``_stage`` is SAMME's or R2's step."""

    def _boost(self, X, y, sample_weight, fit_params) -> None:
        weight = check_sample_weight(sample_weight, X.shape[0])
        weight = np.full(X.shape[0], 1 / X.shape[0]) if weight is None else weight / weight.sum()
        zero = weight == 0
        rng = check_random_state(self.random_state)
        eps = np.finfo(float).eps
        self.estimator_ = self._template()
        self.estimators_, weights, errors = [], [], []
        with self._one_warning_per_kind():
            for stage in range(self.n_estimators):
                weight = np.clip(weight, eps, None)
                weight[zero] = 0.0
                member, error, alpha, new_weight = self._stage(X, y, weight, rng, fit_params)
                if member is None:  # no better than chance: discarded, boosting ends
                    break
                self.estimators_.append(member)
                weights.append(alpha)
                errors.append(error)
                if self.verbose:
                    print(
                        f"{type(self).__name__}: stage {stage + 1}/{self.n_estimators}, weighted "
                        f"error {error:.4f}, member weight {alpha:.4f}"
                    )
                if error <= 0 or new_weight is None or stage == self.n_estimators - 1:
                    break
                total = new_weight.sum()
                if not np.isfinite(total):
                    warn_user(
                        f"The sample weights overflowed after stage {stage + 1}, so boosting "
                        f"stopped with {len(self.estimators_)} members; lower learning_rate "
                        f"(now {self.learning_rate!r}) to boost further.",
                        UserWarning,
                    )
                    break
                if total <= 0:
                    break
                weight = new_weight / total
        self.estimator_weights_ = np.array(weights)
        self.estimator_errors_ = np.array(errors)

    @property
    def feature_importances_(self) -> np.ndarray:
        """The members' ``feature_importances_``, averaged with the members' weights.

        Raises AttributeError when the members have none (nets, for instance).
        """
        check_is_fitted(self)
        if not all(hasattr(member, "feature_importances_") for member in self.estimators_):
            raise AttributeError(
                f"{type(self).__name__} has no feature_importances_: its members "
                f"({type(self.estimators_[0]).__name__}) have none."
            )
        weights = self.estimator_weights_
        importances = [member.feature_importances_ for member in self.estimators_]
        return np.average(importances, axis=0, weights=weights)


class AdaBoostClassifier(
    _AdaBoostMixin, _StagedClassifier, PredictLogProbaMixin, ClassifierMixin, BaseEstimator
):
    """AdaBoost SAMME (Zhu et al. 2009) for K classes, for any classifier, nets included.

    Stage m fits a member under the current sample weights, with weighted error ``e``; its
    weight is ``learning_rate * (log((1 - e) / e) + log(K - 1))`` and misclassified rows'
    weights are multiplied by ``exp(weight)``. Boosting stops early on a perfect member, and a
    member no better than chance (``e >= 1 - 1/K``) is discarded, as scikit-learn does: with
    the same base learner, data and ``random_state`` the ``estimator_weights_``, errors and
    predictions equal scikit-learn's ``AdaBoostClassifier``.

    Parameters
    ----------
    estimator : estimator or None, default=None
        Base learner; None uses a small ``NeuralNetClassifier`` (one hidden layer of 16).
        Its ``fit`` must take ``sample_weight`` unless ``resample=True``.
    n_estimators : int, default=50
    learning_rate : float > 0, default=1.0
    resample : bool, default=False
        Train each stage on a bootstrap drawn with probabilities equal to the weights,
        for learners without ``sample_weight``.
    random_state : None, int or RandomState, default=None
    verbose : int, default=0
        > 0 prints a line per stage as it is fitted (its error, or its loss).

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of fitted members
    estimator_weights_ : ndarray of shape (n_stages,)
        One per fitted member (scikit-learn pads with zeros up to ``n_estimators``).
    estimator_errors_ : ndarray of shape (n_stages,)
    feature_importances_ : ndarray of shape (n_features,)
        The members' ``feature_importances_`` averaged with their weights (when the
        members have them, as trees do).
    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    AdaBoostRegressor : AdaBoost.R2 for regression.
    GradientBoostingClassifier : boosting by fitting the loss's gradient.
    BaggingClassifier : members fitted independently, not in sequence.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import AdaBoostClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> boost = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=10,
    ...                            random_state=0).fit(X, y)
    >>> len(boost), bool(boost.score(X, y) > 0.9)
    (10, True)
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "resample": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        n_estimators=50,
        *,
        learning_rate=1.0,
        resample=False,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.resample = resample
        self.random_state = random_state
        self.verbose = verbose

    def _template(self):
        if self.estimator is None:
            return _small_net(NeuralNetClassifier)
        check_member_kind(self, self.estimator)
        return self.estimator

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Boost ``n_estimators`` stages (fewer on a perfect or a useless member).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Initial weights (uniform if None).
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(
            self, X, y, dtype=None, ensure_all_finite=False, allow_nd=True,
            accept_sparse=self._accepts_sparse(),
        )  # fmt: skip
        check_classification_targets(y)
        template = self._template()
        if not self.resample and not has_fit_parameter(template, "sample_weight"):
            raise ValueError(
                f"{type(template).__name__}.fit does not take sample_weight; set resample=True "
                "to train each stage on a weighted bootstrap instead."
            )
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                "AdaBoostClassifier needs at least 2 classes in y, got 1 class "
                f"({plain(self.classes_[0])!r})."
            )
        self._boost(X, y, sample_weight, self._member_fit_params(fit_params))
        return self

    def _stage(self, X, y, weight, rng, fit_params):
        """SAMME: fit under the weights, weight the member, up-weight its mistakes."""
        if self.resample:
            member = _fit_stage(
                self, X, y, rng, bootstrap_p=weight / weight.sum(), fit_params=fit_params
            )
        else:
            member = _fit_stage(self, X, y, rng, sample_weight=weight, fit_params=fit_params)
        incorrect = member.predict(X) != y
        error = float(np.average(incorrect, weights=weight))
        if error <= 0:
            return member, 0.0, 1.0, weight
        n_classes = len(self.classes_)
        if error >= 1.0 - 1.0 / n_classes:
            if not self.estimators_:
                raise ValueError(
                    "The first member is no better than chance; AdaBoost cannot continue. "
                    "Use a stronger base learner or check the labels."
                )
            return None, None, None, None
        alpha = self.learning_rate * (np.log((1.0 - error) / error) + np.log(n_classes - 1.0))
        # scikit-learn's arithmetic, to the last bit (a tie between two splits of a later
        # tree follows it); an overflow ends boosting, with a warning.
        with np.errstate(divide="ignore", over="ignore"):
            new_weight = np.exp(np.log(weight) + alpha * incorrect * (weight > 0))
        return member, error, alpha, new_weight

    def _stage_prediction(self, member, X) -> np.ndarray:
        """The learner's probabilities in the columns of ``classes_``: its own classes may
        be fewer (a stage's weighted draw can miss one)."""
        if hasattr(member, "predict_proba"):
            return align_proba(member.predict_proba(X), member.classes_, self.classes_)
        proba = np.zeros((X.shape[0], len(self.classes_)))
        proba[np.arange(X.shape[0]), np.searchsorted(self.classes_, member.predict(X))] = 1
        return proba

    def staged_decision_function(self, X):
        """Decision function after each stage (as scikit-learn's SAMME).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        decision : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
            After the first 1, 2, ..., ``len(self)`` members.
        """
        X = self._validate_X(X)
        k = len(self.classes_)
        total, norm = np.zeros((X.shape[0], k)), 0.0
        for member, alpha in zip(self.estimators_, self.estimator_weights_, strict=True):
            # Symmetric SAMME coding: +alpha for the predicted class, -alpha/(K-1) elsewhere.
            total += np.where(member.predict(X)[:, None] == self.classes_, alpha, -alpha / (k - 1))
            norm += alpha
            decision = total / norm
            yield decision[:, 1] - decision[:, 0] if k == 2 else decision

    def decision_function(self, X):
        """Weighted vote of the members, normalised by the sum of their weights.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        decision : ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
        """
        return _last(self.staged_decision_function(X))

    def staged_predict_proba(self, X):
        """Class probabilities after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        proba : ndarray of shape (n_samples, n_classes)
            After the first 1, 2, ..., ``len(self)`` members.
        """
        check_is_fitted(self)
        k = len(self.classes_)
        for decision in self.staged_decision_function(X):
            if k == 2:
                decision = np.vstack([-decision, decision]).T / 2
            else:
                decision = decision / (k - 1)
            yield softmax(decision, axis=1)


class AdaBoostRegressor(_AdaBoostMixin, _StagedRegressor, RegressorMixin, BaseEstimator):
    """AdaBoost.R2 (Drucker 1997) for any regressor, nets included.

    Each stage trains on a bootstrap drawn with the current weights, measures every row's
    error scaled by the largest (linear, square or exponential loss), and gets weight
    ``learning_rate * log(1 / beta)`` with ``beta = e / (1 - e)``; a member with weighted
    loss ``e >= 0.5`` ends boosting. Predictions are the weighted median of the members'.
    With the same base learner and ``random_state`` it equals scikit-learn's
    ``AdaBoostRegressor``.

    Parameters
    ----------
    estimator : estimator or None, default=None
        Base learner; None uses a small ``NeuralNetRegressor``.
    n_estimators : int, default=50
    learning_rate : float > 0, default=1.0
    loss : {"linear", "square", "exponential"}, default="linear"
    random_state : None, int or RandomState, default=None
    verbose : int, default=0
        > 0 prints a line per stage as it is fitted (its error, or its loss).

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of fitted members
    estimator_weights_ : ndarray of shape (n_stages,)
        One per fitted member (scikit-learn pads with zeros up to ``n_estimators``).
    estimator_errors_ : ndarray of shape (n_stages,)
    feature_importances_ : ndarray of shape (n_features,)
        The members' ``feature_importances_`` averaged with their weights (when the
        members have them, as trees do).

    See Also
    --------
    AdaBoostClassifier : SAMME for classification.
    GradientBoostingRegressor : boosting by fitting the loss's gradient.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import AdaBoostRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> boost = AdaBoostRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=10,
    ...                           random_state=0).fit(X, y)
    >>> bool(boost.score(X, y) > 0.5)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "loss": [StrOptions({"linear", "square", "exponential"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        n_estimators=50,
        *,
        learning_rate=1.0,
        loss="linear",
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.loss = loss
        self.random_state = random_state
        self.verbose = verbose

    def _template(self):
        if self.estimator is None:
            return _small_net(NeuralNetRegressor)
        check_member_kind(self, self.estimator)
        return self.estimator

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Boost up to ``n_estimators`` stages.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(
            self, X, y, dtype=None, ensure_all_finite=False, y_numeric=True, allow_nd=True,
            accept_sparse=self._accepts_sparse(),
        )  # fmt: skip
        self._boost(X, y, sample_weight, self._member_fit_params(fit_params))
        return self

    def _stage(self, X, y, weight, rng, fit_params):
        """AdaBoost.R2: fit on a weighted bootstrap, weight by beta, down-weight good rows."""
        member = _fit_stage(self, X, y, rng, bootstrap_p=weight, fit_params=fit_params)
        mask = weight > 0
        loss = np.abs(member.predict(X) - y)[mask]
        if loss.max() != 0:
            loss = loss / loss.max()
        if self.loss == "square":
            loss = loss**2
        elif self.loss == "exponential":
            loss = 1.0 - np.exp(-loss)
        error = float((weight[mask] * loss).sum())
        if error <= 0:
            return member, 0.0, 1.0, weight
        if error >= 0.5:
            # scikit-learn keeps a first member this poor (and stops); later ones are dropped.
            return (member, error, 1.0, None) if not self.estimators_ else (None, None, None, None)
        beta = error / (1.0 - error)
        new_weight = weight.copy()
        new_weight[mask] *= np.power(beta, (1.0 - loss) * self.learning_rate)
        return member, error, self.learning_rate * np.log(1.0 / beta), new_weight

    def _weighted_median(self, predictions, weights):
        order = np.argsort(predictions, axis=1)
        cdf = np.cumsum(weights[order], axis=1)
        median = (cdf >= 0.5 * cdf[:, -1:]).argmax(axis=1)
        rows = np.arange(len(predictions))
        return predictions[rows, order[rows, median]]

    def staged_predict(self, X):
        """Weighted median of the first 1, 2, ... members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        y_pred : ndarray of shape (n_samples,)
            After the first 1, 2, ..., ``len(self)`` members.
        """
        X = self._validate_X(X)
        predictions = np.array([m.predict(X) for m in self.estimators_]).T
        for k in range(1, len(self.estimators_) + 1):
            yield self._weighted_median(predictions[:, :k], self.estimator_weights_[:k])
