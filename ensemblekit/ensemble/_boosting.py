"""Boosting of any estimator, nets included: AdaBoost (SAMME, R2) and gradient boosting.

Stages are sequential by nature; each stage's member is still fitted by the member engine
(one plan: its seed, rows and weights), so seeding and thread limits are shared with every
other ensemble.
"""

from __future__ import annotations

import contextlib
import warnings
from collections import deque
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import get_tags
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from ..engine import MemberPlan, fit_members
from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import deferred_warnings, warn_for_members
from ..utils._mixins import PredictLogProbaMixin, all_or_nothing
from ..utils._private import HasMethods, Interval, StrOptions
from ..utils._random import check_random_state, set_random_states
from ..utils._routing import rows_of_params
from ..utils._validation import check_sample_weight
from ._base import MembersMixin, TemplateMixin, with_fit_params_doc


def _small_net(kind):
    """The default base learner of the boosters: a weak net, one hidden layer of 16."""
    return kind(module__hidden_units=(16,), max_epochs=20, lr=1e-2)


def _fit_stage(
    booster, X, y, rng, *, bootstrap_p=None, sample_weight=None, fit_params=None
):  # fmt: skip
    """One stage's member, seeded from the shared ``rng`` as scikit-learn seeds, then (with
    ``bootstrap_p``) trained on a bootstrap drawn with those probabilities; engine-fitted.
    Its fit warnings wait in ``booster._stage_notes`` (see ``_one_warning_per_kind``)."""
    member = set_random_states(clone(booster._template()), rng)
    rows = (
        None
        if bootstrap_p is None
        else rng.choice(X.shape[0], X.shape[0], replace=True, p=bootstrap_p)
    )
    plan = MemberPlan(0, rows=rows, sample_weight=sample_weight)
    with deferred_warnings() as notes:
        member = fit_members(member, X, y, [plan], reseed="unset", fit_params=fit_params)[0]
    booster._stage_notes.append(notes)
    return member


class _BoostingMixin(TemplateMixin, MembersMixin):
    """Shared by the four boosters: members (``len``, ``ens[i]``), validation at predict."""

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, dtype=None, ensure_all_finite=False, allow_nd=True,
            accept_sparse=self._accepts_sparse(),
        )  # fmt: skip

    @contextlib.contextmanager
    def _one_warning_per_kind(self):
        """Stages fitted inside give their fit warnings (diverged, not converged) once per
        kind when boosting ends, counted over the stages, not once a stage."""
        self._stage_notes = []
        try:
            yield
        finally:
            notes = self.__dict__.pop("_stage_notes")
        warn_for_members(self, notes)

    def __sklearn_tags__(self):
        # X reaches the members as given (NaN included), so what X may hold is theirs to say.
        tags = super().__sklearn_tags__()
        member = get_tags(self._template()).input_tags
        tags.input_tags.sparse, tags.input_tags.allow_nan = member.sparse, member.allow_nan
        return tags


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
                    warnings.warn(
                        f"The sample weights overflowed after stage {stage + 1}, so boosting "
                        f"stopped with {len(self.estimators_)} members; lower learning_rate "
                        f"(now {self.learning_rate!r}) to boost further.",
                        UserWarning,
                        stacklevel=3,
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


# ==================================================================== AdaBoost
class AdaBoostClassifier(_AdaBoostMixin, PredictLogProbaMixin, ClassifierMixin, BaseEstimator):
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
        return self.estimator if self.estimator is not None else _small_net(NeuralNetClassifier)

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
                f"({self.classes_[0]!r})."
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

    def predict_proba(self, X):
        """Class probabilities: softmax of the decision function, as scikit-learn's SAMME.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return _last(self.staged_predict_proba(X))

    def staged_predict(self, X):
        """Predicted labels after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        y_pred : ndarray of shape (n_samples,)
            After the first 1, 2, ..., ``len(self)`` members.
        """
        for proba in self.staged_predict_proba(X):
            yield self.classes_[np.argmax(proba, axis=1)]

    def predict(self, X):
        """Class with the highest weighted vote.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def staged_score(self, X, y, sample_weight=None):
        """Accuracy after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,) or None, default=None

        Yields
        ------
        score : float
            After the first 1, 2, ..., ``len(self)`` members.
        """
        for pred in self.staged_predict(X):
            yield float(np.average(pred == np.asarray(y), weights=sample_weight))


class AdaBoostRegressor(_AdaBoostMixin, RegressorMixin, BaseEstimator):
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
        return self.estimator if self.estimator is not None else _small_net(NeuralNetRegressor)

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

    def predict(self, X):
        """Weighted median of the members' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return _last(self.staged_predict(X))

    def staged_score(self, X, y, sample_weight=None):
        """R² after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,) or None, default=None

        Yields
        ------
        score : float
            After the first 1, 2, ..., ``len(self)`` members.
        """
        from sklearn.metrics import r2_score

        for pred in self.staged_predict(X):
            yield r2_score(y, pred, sample_weight=sample_weight)


def _last(generator):
    """The final item of a staged generator."""
    return deque(generator, maxlen=1)[0]


# ==================================================================== gradient boosting
class _BaseGradientBoosting(_BoostingMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "subsample": [Interval(Real, 0, 1, closed="right")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), None],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self, estimator=None, n_estimators=10, *, learning_rate=0.1, loss="squared_error",
        subsample=1.0, n_iter_no_change=None, validation_fraction=0.1, random_state=None,
        verbose=0,
    ):  # fmt: skip
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.loss = loss
        self.subsample = subsample
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.verbose = verbose

    def _template(self):
        if self.estimator is not None:
            if is_classifier(self.estimator):
                raise ValueError(
                    "Gradient boosting fits each stage to the loss's negative gradient, a "
                    f"regression target: pass a regressor, not {type(self.estimator).__name__}."
                )
            return self.estimator
        return _small_net(NeuralNetRegressor)

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit up to ``n_estimators`` stages, each on the negative gradient of the loss.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to every stage's member (its fit must take it).
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y = validate_data(
            self, X, y, dtype=None, ensure_all_finite=False, y_numeric=not is_classifier(self),
            allow_nd=True, accept_sparse=self._accepts_sparse(),
        )  # fmt: skip
        y = self._encode(y)
        weight = check_sample_weight(sample_weight, X.shape[0])
        fit_params = self._member_fit_params(fit_params)
        rng = check_random_state(self.random_state)
        train, valid = np.arange(X.shape[0]), None
        if self.n_iter_no_change is not None:
            stratify = y if is_classifier(self) and np.bincount(y).min() >= 2 else None
            train, valid = train_test_split(
                train, test_size=self.validation_fraction, stratify=stratify,
                random_state=rng.randint(np.iinfo(np.int32).max),
            )  # fmt: skip
        self.estimator_ = self._template()
        self.init_ = self._init_output(y[train], None if weight is None else weight[train])
        output = np.tile(self.init_, (X.shape[0], 1))
        self.estimators_, self.train_score_, valid_scores = [], [], []
        best, since_best = np.inf, 0
        with self._one_warning_per_kind():
            for _ in range(self.n_estimators):
                rows = train
                if self.subsample < 1.0:
                    rows = np.sort(
                        rng.choice(train, max(1, int(self.subsample * len(train))), replace=False)
                    )
                target = self._negative_gradient(y[rows], output[rows])
                stage_weight = None if weight is None else weight[rows]
                member = _fit_stage(
                    self, X[rows], target, rng, sample_weight=stage_weight,
                    fit_params=rows_of_params(fit_params, rows, X.shape[0]),
                )  # fmt: skip
                output += self.learning_rate * self._member_output(member, X)
                self.estimators_.append(member)
                self.train_score_.append(self._loss(y[train], output[train]))
                if valid is not None:
                    valid_scores.append(self._loss(y[valid], output[valid]))
                if self.verbose:
                    self._report(valid_scores)
                if valid is not None:
                    if valid_scores[-1] < best - 1e-12:
                        best, since_best = valid_scores[-1], 0
                    else:
                        since_best += 1
                        if since_best >= self.n_iter_no_change:
                            break
        if valid is not None:
            keep = int(np.argmin(valid_scores)) + 1
            self.estimators_ = self.estimators_[:keep]
            self.train_score_ = self.train_score_[:keep]
            self.validation_score_ = np.array(valid_scores)
        self.train_score_ = np.array(self.train_score_)
        self.n_estimators_ = len(self.estimators_)
        return self

    def _report(self, valid_scores) -> None:
        line = (
            f"{type(self).__name__}: stage {len(self.estimators_)}/{self.n_estimators}, "
            f"training loss {self.train_score_[-1]:.4f}"
        )
        print(line + (f", validation loss {valid_scores[-1]:.4f}" if valid_scores else ""))

    def _member_output(self, member, X):
        return np.asarray(member.predict(X), dtype=float).reshape(X.shape[0], -1)

    def _staged_raw(self, X):
        X = self._validate_X(X)
        output = np.tile(self.init_, (X.shape[0], 1))
        for member in self.estimators_:
            output = output + self.learning_rate * self._member_output(member, X)
            yield output


class GradientBoostingRegressor(RegressorMixin, _BaseGradientBoosting):
    """Gradient boosting with neural (or any regression) base learners.

    Friedman (2001) with net learners, as in torchensemble, but an estimator: stage m fits a
    fresh member to the negative gradient of the loss at the current output, and the output
    is ``init_ + sum_m learning_rate * member_m(X)``.

    Parameters
    ----------
    estimator : regressor or None, default=None
        Base learner; None uses a small ``NeuralNetRegressor`` (one hidden layer of 16).
    n_estimators : int, default=10
    learning_rate : float > 0, default=0.1
    loss : {"squared_error", "absolute_error", "huber"}, default="squared_error"
        Negative gradients: residuals; their signs; residuals clipped at the 0.9 quantile of
        their absolute values (Huber). ``init_`` is the mean (squared) or the median.
    subsample : float in (0, 1], default=1.0
        Share of the training rows each stage sees (stochastic gradient boosting).
    n_iter_no_change : int or None, default=None
        Hold out ``validation_fraction`` of the rows, stop when their loss has not improved
        for this many stages, and keep the best number of stages.
    validation_fraction : float, default=0.1
    random_state : None, int or RandomState, default=None
    verbose : int, default=0
        > 0 prints a line per stage as it is fitted (its error, or its loss).

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of fitted members
    init_ : ndarray of shape (1,)
    train_score_ : ndarray of shape (n_stages,)
        Training loss after each stage.
    validation_score_ : ndarray
        Held-out loss after each stage (with ``n_iter_no_change``).
    n_estimators_ : int

    See Also
    --------
    GradientBoostingClassifier : the same for classification.
    AdaBoostRegressor : boosting by reweighting the rows.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import GradientBoostingRegressor
    >>> X, y = make_friedman1(n_samples=300, random_state=0)
    >>> gb = GradientBoostingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=20,
    ...                                random_state=0).fit(X, y)
    >>> bool(gb.train_score_[-1] < gb.train_score_[0])
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseGradientBoosting._parameter_constraints,
        "loss": [StrOptions({"squared_error", "absolute_error", "huber"})],
    }

    def _encode(self, y):
        return np.asarray(y, dtype=float)

    def _init_output(self, y, weight):
        if self.loss == "squared_error":
            return np.array([np.average(y, weights=weight)])
        return np.array([np.median(y)])

    def _negative_gradient(self, y, output):
        residual = y - output[:, 0]
        if self.loss == "squared_error":
            return residual
        if self.loss == "absolute_error":
            return np.sign(residual)
        delta = np.quantile(np.abs(residual), 0.9)
        return np.where(np.abs(residual) <= delta, residual, delta * np.sign(residual))

    def _loss(self, y, output):
        residual = y - output[:, 0]
        if self.loss == "squared_error":
            return float(np.mean(residual**2))
        if self.loss == "absolute_error":
            return float(np.mean(np.abs(residual)))
        delta = np.quantile(np.abs(residual), 0.9)
        small = np.abs(residual) <= delta
        return float(
            np.mean(np.where(small, residual**2 / 2, delta * (np.abs(residual) - delta / 2)))
        )

    def staged_predict(self, X):
        """Predictions after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        y_pred : ndarray of shape (n_samples,)
            After the first 1, 2, ..., ``len(self)`` members.
        """
        for output in self._staged_raw(X):
            yield output[:, 0]

    def predict(self, X):
        """``init_ + sum_m learning_rate * member_m(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return _last(self.staged_predict(X))


class GradientBoostingClassifier(PredictLogProbaMixin, ClassifierMixin, _BaseGradientBoosting):
    """Gradient boosting for classification with neural (or any regression) base learners.

    Multinomial deviance: the output is one score per class, ``init_`` the log class
    priors; stage m fits a multi-output member to the negative gradient
    ``onehot(y) - softmax(output)`` and the output grows by ``learning_rate`` times its
    prediction; probabilities are the softmax of the output.

    Parameters
    ----------
    estimator : multi-output regressor or None, default=None
        Base learner; None uses a small ``NeuralNetRegressor`` (one output per class).
    n_estimators : int, default=10
    learning_rate : float > 0, default=0.1
    loss : {"log_loss"}, default="log_loss"
    subsample : float in (0, 1], default=1.0
    n_iter_no_change : int or None, default=None
        Early stopping on a stratified ``validation_fraction`` of the rows, keeping the best
        number of stages.
    validation_fraction : float, default=0.1
    random_state : None, int or RandomState, default=None
    verbose : int, default=0
        > 0 prints a line per stage as it is fitted (its error, or its loss).

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of fitted members
    classes_ : ndarray of shape (n_classes,)
    init_ : ndarray of shape (n_classes,)
        Log class priors.
    train_score_ : ndarray of shape (n_stages,)
        Training deviance (mean log loss) after each stage.
    validation_score_ : ndarray
    n_estimators_ : int

    See Also
    --------
    GradientBoostingRegressor : the same for regression.
    AdaBoostClassifier : boosting by reweighting the rows.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.ensemble import GradientBoostingClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> gb = GradientBoostingClassifier(n_estimators=3, random_state=0).fit(X, y)
    >>> gb.predict_proba(X[:1]).shape
    (1, 3)
    """

    _parameter_constraints: ClassVar[dict] = {
        **_BaseGradientBoosting._parameter_constraints,
        "loss": [StrOptions({"log_loss"})],
    }

    def __init__(
        self, estimator=None, n_estimators=10, *, learning_rate=0.1, loss="log_loss",
        subsample=1.0, n_iter_no_change=None, validation_fraction=0.1, random_state=None,
        verbose=0,
    ):  # fmt: skip
        super().__init__(
            estimator, n_estimators, learning_rate=learning_rate, loss=loss, subsample=subsample,
            n_iter_no_change=n_iter_no_change, validation_fraction=validation_fraction,
            random_state=random_state, verbose=verbose,
        )  # fmt: skip

    def _encode(self, y):
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "GradientBoostingClassifier needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r})."
            )
        return encoded

    def _init_output(self, y, weight):
        counts = np.bincount(y, weights=weight, minlength=len(self.classes_))
        return np.log(np.clip(counts / counts.sum(), 1e-15, None))

    def _negative_gradient(self, y, output):
        return np.eye(len(self.classes_))[y] - softmax(output, axis=1)

    def _loss(self, y, output):
        log_proba = output - logsumexp(output, axis=1, keepdims=True)
        return float(-np.mean(log_proba[np.arange(len(y)), y]))

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
        for output in self._staged_raw(X):
            yield softmax(output, axis=1)

    def predict_proba(self, X):
        """Softmax of ``init_ + sum_m learning_rate * member_m(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return _last(self.staged_predict_proba(X))

    def staged_predict(self, X):
        """Labels after each stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Yields
        ------
        y_pred : ndarray of shape (n_samples,)
            After the first 1, 2, ..., ``len(self)`` members.
        """
        for proba in self.staged_predict_proba(X):
            yield self.classes_[np.argmax(proba, axis=1)]

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
