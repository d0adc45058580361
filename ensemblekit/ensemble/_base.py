"""What every ensemble built on the member engine shares: validation, fitting, combining.

A concrete ensemble makes one ``MemberPlan`` per member (which rows, features, weights and
seed it gets) and hands them to ``_fit_plans``; fitting through the member engine, indexing
(``len``, ``ens[i]``), soft voting, averaging and ``predict_members`` are written once here.
"""

from __future__ import annotations

import weakref
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    RegressorMixin,
    clone,
    is_classifier,
    is_regressor,
)
from sklearn.utils import get_tags
from sklearn.utils.metadata_routing import MetadataRouter
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..engine import MemberPlan, fit_members
from ..nets import NeuralNetClassifier, NeuralNetRegressor, StackedPredictor
from ..utils._fit_warnings import warn_user, warnings_of
from ..utils._mixins import PredictLogProbaMixin
from ..utils._private import HasMethods, Hidden, Interval, RealNotInt, StrOptions
from ..utils._proba import align_proba
from ..utils._routing import FIT_PARAMS_DOC, fill_doc, member_router, routed_fit_params
from ..utils._validation import check_sample_weight, plain

#: The ``engine`` parameter of the ensembles that fit through the member engine.
ENGINE_DOC = """    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How members train. "vectorized" trains them stacked as one model (one task per
        joblib worker), much faster for many small nets; each member is the net its own
        fit gives, up to float rounding: its seed, rows, features, shuffling, dropout
        masks, history, optimizer state and early stopping. It needs ensemblekit nets, with
        any module ``torch.func.vmap`` can run (what blocks it:
        ``ensemblekit.engine.fit_members``). "joblib" fits one member per task. "auto"
        stacks when it can.
"""


#: Constraint of a count parameter renamed ``n_estimators``: a count, or its placeholder.
RENAMED_COUNT = [Interval(Integral, 1, None, closed="left"), Hidden(StrOptions({"deprecated"}))]


def renamed_count(estimator, old: str) -> int:
    """``n_estimators``, or the value of its old name ``old`` with a ``FutureWarning``."""
    value = getattr(estimator, old)
    if isinstance(value, str) and value == "deprecated":
        return estimator.n_estimators
    warn_user(
        f"{type(estimator).__name__}'s {old} was renamed n_estimators in 0.1, the name "
        f"every ensemble uses, as in scikit-learn; {old} goes in 0.3. Use "
        f"n_estimators={value!r}.",
        FutureWarning,
    )
    return value


def check_member_kind(ensemble, template) -> None:
    """Refuse a member of the other kind than ``ensemble`` (a classifier in a regressor's
    ensemble, or a regressor in a classifier's): it would fit, and predict nonsense."""
    classifier = isinstance(ensemble, ClassifierMixin)
    if is_regressor(template) if classifier else is_classifier(template):
        kind, other = ("classifier", "regressor") if classifier else ("regressor", "classifier")
        name = type(ensemble).__name__
        twin = (
            name.replace("Classifier", "Regressor")
            if classifier
            else name.replace("Regressor", "Classifier")
        )
        raise ValueError(
            f"{name} combines {kind}s, but its estimator {type(template).__name__} is a "
            f"{other}. Pass a {kind} (NeuralNet{kind.title()} for a net), or use {twin} "
            f"to combine {other}s."
        )


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

    #: How ``predict`` combines the members' predictions: "mean" (each member votes with
    #: equal weight: bagging, deep, CV and snapshot ensembles) or "weighted" (stages with
    #: weights of their own: the boosters). Tools that read an ensemble through
    #: ``predict_members`` (uncertainty, diversity) take only "mean" ensembles.
    member_combination: ClassVar[str] = "weighted"

    def _combined_indices(self) -> range:
        """The members whose predictions are combined (all of them, unless a subclass says)."""
        return range(len(self))

    @property
    def combined_members_(self) -> list[int]:
        """The positions in ``estimators_`` of the members ``predict`` combines, in the
        order ``predict_members`` gives them (all members, except for a snapshot ensemble
        with ``n_average``)."""
        return list(self._combined_indices())


#: Writes the ``**fit_params`` entry into a ``fit`` docstring's ``{fit_params}`` line.
with_fit_params_doc = fill_doc(fit_params=FIT_PARAMS_DOC)


class TemplateMixin:
    """What the ensembles whose members clone ``_template()`` share: routing fit
    parameters to the members, and taking the input the members take."""

    def get_metadata_routing(self) -> MetadataRouter:
        """How ``fit``'s extra parameters reach the members (scikit-learn's metadata
        routing): ``fit`` to the estimator's ``fit``.

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRouter
        """
        return member_router(self, self._template())

    def _member_fit_params(self, fit_params) -> dict:
        """The members' fit parameters: routed when routing is on, all of them when off."""
        return routed_fit_params(self, self._template(), fit_params)

    def _accepts_sparse(self):
        """Sparse X when the members take it: CSR and CSC reach them as given, as in
        scikit-learn's ensembles; another format becomes CSR, whose rows index fast."""
        return ["csr", "csc"] if get_tags(self._template()).input_tags.sparse else False


class MemberEnsembleMixin(TemplateMixin, MembersMixin, MetaEstimatorMixin):
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
            accept_sparse=self._accepts_sparse(),
        )
        y = self._encode_y(y)
        # scikit-learn's name for the validated template the members clone.
        self.estimator_ = self._member_template(self._template())
        return X, y, check_sample_weight(sample_weight, X.shape[0])

    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, dtype=None, ensure_all_finite=False,
            accept_sparse=self._accepts_sparse(),
        )  # fmt: skip

    def _encode_y(self, y):
        return y

    def _fit_plans(
        self, X, y, plans: list[MemberPlan], existing: list | None = None, fit_params=None
    ):
        """Fit the members of ``plans`` and append them to ``existing`` (warm start);
        ``fit_params`` are the members' (already routed)."""
        template = self._template()
        self._check_template(template)
        try:
            with warnings_of(type(self).__name__):
                new = fit_members(
                    self._member_template(template), X, y, plans, n_jobs=self.n_jobs,
                    verbose=self.verbose, engine=self.engine, fit_params=fit_params,
                )  # fmt: skip
        except ValueError as error:
            self._explain_failure(template, y, plans, error)
            raise
        self.estimators_ = list(existing or []) + new

    def _member_template(self, template) -> BaseEstimator:
        """What the members clone: ``template``, told what it must know of the ensemble."""
        return template

    def _explain_failure(self, template, y, plans, error) -> None:
        """Raise a clearer error than ``error`` when the plans explain it."""

    def _check_template(self, template) -> None:
        check_member_kind(self, template)
        if self._is_classifier() and not hasattr(template, "predict_proba"):
            raise ValueError(
                f"{type(self).__name__} averages predict_proba (soft voting), which "
                f"{type(template).__name__} does not have. Use a probabilistic classifier "
                "(for SVC, probability=True)."
            )

    def _combined_outputs(self, X) -> list[np.ndarray]:
        """The combined members' predictions on validated X (``_member_output`` of each).

        Member nets of one architecture predict in one stacked forward pass, with their
        weights stacked once and reused while they are unchanged; X is validated once.
        """
        indices = list(self._combined_indices())
        members = [self.estimators_[i] for i in indices]
        predictor = _PREDICTORS.get(self)
        if predictor is None or not predictor.is_current(members):
            predictor = StackedPredictor(members, [self._features_of(i) for i in indices])
            _PREDICTORS[self] = predictor
        outputs = predictor(X)
        return [self._member_output(i, X, out) for i, out in zip(indices, outputs, strict=True)]

    def predict_members(self, X) -> np.ndarray:
        """Each member's own prediction on X, stacked: class probabilities in the columns
        of ``classes_`` for a classifier, predictions for a regressor. These are the
        predictions ``predict`` combines (for a snapshot ensemble, its last ``n_average``
        members'); member nets of one architecture answer in one stacked forward pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        predictions : ndarray of shape (n_members, n_samples, n_classes) for a classifier,
            (n_members, n_samples) or (n_members, n_samples, n_targets) for a regressor
        """
        return np.stack(self._combined_outputs(self._validate_X(X)))

    def _member_X(self, X, index: int):
        features = self._features_of(index)
        return X if features is None else X[:, features]

    def _features_of(self, index: int):
        return None

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        template_tags = get_tags(self._template()).input_tags
        tags.input_tags.allow_nan = template_tags.allow_nan
        tags.input_tags.sparse = template_tags.sparse
        return tags


class SoftVotingClassifierMixin(PredictLogProbaMixin, ClassifierMixin):
    """Members see labels encoded 0..K-1; predictions average their aligned probabilities."""

    member_combination: ClassVar[str] = "mean"

    def _encode_y(self, y):
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes in y, got 1 class "
                f"({plain(self.classes_[0])!r})."
            )
        return encoded

    def _member_template(self, template):
        """Member nets are told every class (``classes``, encoded as the members see the
        labels), also inside a pipeline, so a member whose draw misses classes, or holds
        one class only, still trains and predicts all of them."""
        params = template.get_params(deep=True)
        owners = {"": template} | {f"{name}__": value for name, value in params.items()}
        settings = {
            f"{prefix}classes": list(range(len(self.classes_)))
            for prefix, owner in owners.items()
            if isinstance(owner, NeuralNetClassifier)
        }
        return clone(template).set_params(**settings) if settings else template

    def _explain_failure(self, template, y, plans, error):
        single = [
            i for i, plan in enumerate(plans)
            if plan.rows is not None and len(np.unique(y[plan.rows])) < 2
        ]  # fmt: skip
        if single:
            raise ValueError(
                f"{len(single)} members (the first: member {single[0]}) drew rows of a single "
                f"class, and {type(template).__name__} failed to fit them: {error} Draw more "
                "rows (raise max_samples), rebalance the draws (sampling_strategy='auto'), "
                "or use an estimator that can fit one class (a decision tree, or "
                "ensemblekit's nets, which are told every class)."
            ) from error

    def _member_output(self, index: int, X, proba=None) -> np.ndarray:
        """Member ``index``'s probabilities on X in the columns of ``classes_`` (a bootstrap
        may miss some); ``proba`` is its ``predict_proba`` when already computed."""
        member = self.estimators_[index]
        if proba is None:
            proba = member.predict_proba(self._member_X(X, index))
        return align_proba(proba, member.classes_, np.arange(len(self.classes_)))

    def predict_proba(self, X) -> np.ndarray:
        """Mean of the members' class probabilities (soft voting).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return np.mean(self.predict_members(X), axis=0)

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

    member_combination: ClassVar[str] = "mean"

    def predict_members(self, X, return_std: bool = False):
        """Each member's own prediction on X, stacked. These are the predictions
        ``predict`` combines (for a snapshot ensemble, its last ``n_average`` members');
        member nets of one architecture answer in one stacked forward pass.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        return_std : bool, default=False
            Also return each member's own predicted standard deviation, when every
            member predicts one (nets trained with ``GaussianNLLLoss``); None otherwise.

        Returns
        -------
        predictions : ndarray of shape (n_members, n_samples) or (n_members, n_samples,
            n_targets)
        stds : ndarray of the same shape, or None
            Only when ``return_std=True``.
        """
        if not return_std:
            return super().predict_members(X)
        X = self._validate_X(X)
        indices = list(self._combined_indices())
        members = [self.estimators_[i] for i in indices]
        if not all(getattr(m, "predicts_std", lambda: False)() for m in members):
            return np.stack(self._combined_outputs(X)), None
        pairs = [
            member.predict(self._member_X(X, i), return_std=True)
            for i, member in zip(indices, members, strict=True)
        ]
        return np.stack([mean for mean, _ in pairs]), np.stack([std for _, std in pairs])

    def _member_output(self, index: int, X, prediction=None) -> np.ndarray:
        """Member ``index``'s prediction on X (``prediction`` when already computed)."""
        if prediction is None:
            prediction = self.estimators_[index].predict(self._member_X(X, index))
        return prediction

    def predict(self, X) -> np.ndarray:
        """Mean of the members' predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
        """
        return self.predict_members(X).mean(axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


_COUNT_OR_SHARE = [
    Interval(Integral, 1, None, closed="left"),
    Interval(RealNotInt, 0, 1, closed="right"),
]


# Each ensemble's stacked predictor, outside the estimator: predicting leaves its __dict__
# (and its pickles) as they were, as scikit-learn's checks require.
_PREDICTORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
