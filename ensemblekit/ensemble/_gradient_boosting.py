"""Gradient boosting of any regressor, nets included: each stage fits the negative gradient
of the loss (squared, absolute or Huber error for regressors, the multinomial deviance
for classifiers).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from scipy.special import logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..nets import NeuralNetRegressor
from ..utils._mixins import PredictLogProbaMixin, all_or_nothing
from ..utils._private import HasMethods, Interval, StrOptions
from ..utils._random import check_random_state
from ..utils._routing import rows_of_params
from ..utils._validation import check_sample_weight, plain
from ._base import with_fit_params_doc
from ._boosting import (
    _BoostingMixin,
    _fit_stage,
    _small_net,
    _StagedClassifier,
    _StagedRegressor,
)


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


class GradientBoostingRegressor(_StagedRegressor, RegressorMixin, _BaseGradientBoosting):
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


class GradientBoostingClassifier(
    _StagedClassifier, PredictLogProbaMixin, ClassifierMixin, _BaseGradientBoosting
):
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
                f"({plain(self.classes_[0])!r})."
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
