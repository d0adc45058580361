"""What the boosters share: the weak default net, a stage's fit through the member engine
(one plan: its seed, rows and weights, so seeding and thread limits are shared with every
other ensemble), and one fit warning per boosting rather than one a stage.
"""

from __future__ import annotations

import contextlib
from collections import deque

import numpy as np
from sklearn.base import clone
from sklearn.metrics import r2_score
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from ..engine import MemberPlan, fit_members
from ..utils._fit_warnings import deferred_warnings, warn_for_members
from ..utils._random import set_random_states
from ._base import MembersMixin, TemplateMixin


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
        member = fit_members(
            member, X, y, [plan], reseed="unset", fit_params=fit_params, engine="joblib"
        )[0]
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

    def predict_members(self, X) -> np.ndarray:
        """Each stage's learner's own prediction on X, stacked, unweighted: class
        probabilities in the columns of ``classes_`` for AdaBoostClassifier (a one-hot
        vote for a learner without ``predict_proba``), the learner's ``predict``
        otherwise (for gradient boosting, its fit of the loss's negative gradient).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        predictions : ndarray of shape (n_members, n_samples, ...)
            One row block per stage in ``estimators_``.
        """
        X = self._validate_X(X)
        return np.stack([self._stage_prediction(member, X) for member in self.estimators_])

    def _stage_prediction(self, member, X) -> np.ndarray:
        return np.asarray(member.predict(X), dtype=float)

    def __sklearn_tags__(self):
        # X reaches the members as given (NaN included), so what X may hold is theirs to say.
        tags = super().__sklearn_tags__()
        member = get_tags(self._template()).input_tags
        tags.input_tags.sparse, tags.input_tags.allow_nan = member.sparse, member.allow_nan
        return tags


def _last(generator):
    """The final item of a staged generator."""
    return deque(generator, maxlen=1)[0]


class _StagedClassifier:
    """A booster's labels, probabilities and scores, from its ``staged_predict_proba``."""

    def predict_proba(self, X):
        """Class probabilities after the last stage.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return _last(self.staged_predict_proba(X))

    def staged_predict(self, X):
        """Labels after each stage: the most probable class.

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
        """The most probable class.

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


class _StagedRegressor:
    """A booster's predictions and scores, from its ``staged_predict``."""

    def predict(self, X):
        """Predictions after the last stage.

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
        for pred in self.staged_predict(X):
            yield r2_score(y, pred, sample_weight=sample_weight)
