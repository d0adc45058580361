"""What every ensemble built on the member engine shares: validation, fitting, combining.

A concrete ensemble supplies ``_make_plans`` (which rows, features, weights and seed each
member gets) and a default estimator; fitting, indexing (``len``, ``ens[i]``), soft voting
and averaging are written once here.
"""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, RegressorMixin
from sklearn.utils import get_tags
from sklearn.utils._param_validation import HasMethods, Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..engine import MemberPlan, fit_members
from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._validation import check_sample_weight

#: The ``engine`` parameter of the ensembles that fit through the member engine.
ENGINE_DOC = """    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How members train. "vectorized" trains them stacked as one model (one task per
        joblib worker), much faster for many small nets; each member is the net its own
        fit gives, up to float rounding: its seed, rows, features, shuffling, dropout
        masks, history, optimizer state and early stopping. It needs ensemblekit nets with
        the MLP module (what blocks it: ``ensemblekit.engine.fit_members``). "joblib" fits
        one member per task. "auto" stacks when it can.
"""


class MembersMixin:
    """``len(ens)``, ``ens[i]`` and iteration over the fitted members in ``estimators_``."""

    def __len__(self) -> int:
        """Number of fitted members."""
        return len(self.estimators_)

    def __getitem__(self, index):
        """The ``index``-th fitted member."""
        return self.estimators_[index]

    def __iter__(self):
        return iter(self.estimators_)

    def _combined_indices(self) -> range:
        """The members whose predictions are combined (all of them, unless a subclass says)."""
        return range(len(self))


class MemberEnsembleMixin(MembersMixin, MetaEstimatorMixin):
    """Members in ``estimators_``, fitted by the member engine from a plan."""

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "engine": [StrOptions({"auto", "joblib", "vectorized"})],
    }

    def _template(self) -> BaseEstimator:
        """The estimator each member clones: the user's, or a default net."""
        if self.estimator is not None:
            return self.estimator
        return NeuralNetClassifier() if self._is_classifier() else NeuralNetRegressor()

    def _is_classifier(self) -> bool:
        return isinstance(self, ClassifierMixin)

    def _validate_fit_data(self, X, y, sample_weight):
        X, y = validate_data(
            self,
            X,
            y,
            dtype=None,
            ensure_all_finite=False,
            multi_output=not self._is_classifier(),
            y_numeric=not self._is_classifier(),
        )
        return X, self._encode_y(y), check_sample_weight(sample_weight, len(X))

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=None, ensure_all_finite=False)

    def _encode_y(self, y):
        return y

    def _fit_plans(self, X, y, plans: list[MemberPlan], existing: list | None = None):
        """Fit the members of ``plans`` and append them to ``existing`` (warm start)."""
        template = self._template()
        self._check_template(template)
        new = fit_members(
            template, X, y, plans, n_jobs=self.n_jobs, verbose=self.verbose, engine=self.engine
        )
        self.estimators_ = list(existing or []) + new

    def _check_template(self, template) -> None:
        if self._is_classifier() and not hasattr(template, "predict_proba"):
            raise ValueError(
                f"{type(self).__name__} averages predict_proba (soft voting), which "
                f"{type(template).__name__} does not have. Use a probabilistic classifier "
                "(for SVC, probability=True)."
            )

    def _member_X(self, X, index: int):
        features = self._features_of(index)
        return X if features is None else X[:, features]

    def _features_of(self, index: int):
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = get_tags(self._template()).input_tags.allow_nan
        return tags


class SoftVotingClassifierMixin(ClassifierMixin):
    """Members see labels encoded 0..K-1; predictions average their aligned probabilities."""

    def _encode_y(self, y):
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                f"({self.classes_[0]!r})."
            )
        return encoded

    def _member_proba(self, index: int, X) -> np.ndarray:
        """One member's probabilities in the columns of ``classes_`` (a bootstrap may miss some)."""
        return aligned_proba(self.estimators_[index], self._member_X(X, index), len(self.classes_))

    def predict_proba(self, X) -> np.ndarray:
        """Mean of the members' class probabilities (soft voting).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._validate_X(X)
        return np.mean([self._member_proba(i, X) for i in self._combined_indices()], axis=0)

    def predict(self, X) -> np.ndarray:
        """Class with the highest mean probability.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class AveragingRegressorMixin(RegressorMixin):
    """Predictions are the mean of the members' predictions."""

    def _member_predictions(self, X) -> np.ndarray:
        X = self._validate_X(X)
        return np.stack(
            [self.estimators_[i].predict(self._member_X(X, i)) for i in self._combined_indices()]
        )

    def predict(self, X) -> np.ndarray:
        """Mean of the members' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return self._member_predictions(X).mean(axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


_COUNT_OR_SHARE = [
    Interval(Integral, 1, None, closed="left"),
    Interval(RealNotInt, 0, 1, closed="right"),
]


def aligned_proba(member, X, n_classes: int) -> np.ndarray:
    """A member's probabilities in columns 0..n_classes-1 (it saw labels encoded that way)."""
    proba = np.zeros((len(X), n_classes))
    proba[:, np.asarray(member.classes_, dtype=int)] = member.predict_proba(X)
    return proba
