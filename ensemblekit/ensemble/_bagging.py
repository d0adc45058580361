"""Bagging, pasting, random subspaces and random patches of any estimator, nets by default."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils.validation import has_fit_parameter

from ..engine import MemberPlan
from ..imbalance import correct_prior_shift
from ..utils._fit_warnings import warn_user
from ..utils._mixins import all_or_nothing
from ..utils._optional import import_optional
from ..utils._private import HasMethods, Interval, StrOptions
from ..utils._random import MAX_SEED, draw_seeds
from ..utils._resample import resample_rows, resampling_targets
from ..utils._validation import resolve_count
from ._base import (
    _COUNT_OR_SHARE,
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
        What each member clones; None uses a default ``{net}``. Nested parameters are
        searchable as ``estimator__module__hidden_units``, ``estimator__lr``.
    n_estimators : int, default=10
        Number of members.
    max_samples : int or float, default=1.0
        Rows drawn for each member: a count, or a share of the training rows. With
        ``bootstrap=True`` a count may exceed the number of rows, as in scikit-learn.
    max_features : int or float, default=1.0
        Columns drawn for each member (random subspaces when < 1.0).
    bootstrap : bool, default=True
        Draw rows with replacement (bagging); False draws without (pasting).
    bootstrap_features : bool, default=False
        Draw columns with replacement.
    oob_score : bool, default=False
        Score every training row with the members that did not train on it.
    warm_start : bool, default=False
        Keep the fitted members and add new ones up to ``n_estimators``; with an int
        ``random_state`` the result equals one fit of all of them.
    n_jobs : int or None, default=None
        Members fitted in parallel through joblib (under any ``parallel_config``).
    random_state : None, int or RandomState, default=None
        Seeds every member's rows, columns and own ``random_state``, drawn up front: the
        same int gives the same members for any ``n_jobs`` and joblib backend.
    verbose : int, default=0
        > 0 shows a progress bar while members fit.
{engine}
    Notes
    -----
    A member net with ``early_stopping=True`` monitors its own out-of-bag rows (the rows
    its bootstrap did not draw, of the classes it drew), passed to its ``fit`` as
    ``X_val, y_val``, with either engine: a validation split of its own drawn rows would
    share about 60% of its rows with the training rows and never stop. When a member drew
    every row (pasting all rows) it holds out ``validation_fraction`` of them instead.

    Members train on their drawn rows, repeats included, and on labels encoded
    ``0..n_classes-1`` (as in scikit-learn's bagging); a ``sample_weight`` goes with each
    drawn copy of its row. scikit-learn instead passes bootstrap counts as weights on the
    distinct rows, which is exact for trees but not for nets trained by SGD: on load_digits
    such members took ~37% fewer steps and scored 0.940 accuracy and 0.243 log loss against
    0.955 and 0.171 for members trained on the repeated rows.
"""


_BALANCE_DOC = """    sampling_strategy : None, "auto", float or dict, default=None
        Rebalance each member's own draw of rows, with imbalanced-learn's meaning
        (balanced bagging): "auto" brings every class down to the minority's count; a
        float ``r`` in (0, 1] (two classes) keeps the majority at ``n_minority / r``; a
        dict gives the rows to keep of the classes it names (more than drawn
        over-samples). None draws as plain bagging does.
    replacement : bool, default=False
        Resample with replacement when rebalancing with ``sampling_strategy``.
    sampler : imbalanced-learn sampler or None, default=None
        Any object with ``fit_resample`` (``RandomUnderSampler``, ``SMOTE``...), applied
        inside each member's fit to its drawn rows only, so nothing leaks into the
        out-of-bag rows. Needs imbalanced-learn; not with ``sampling_strategy``.
    correct_prior : bool, default=False
        Correct ``predict_proba`` from the class shares the members trained on
        (``train_prior_``) to those of the training data (``class_prior_``), with
        :func:`~ensemblekit.imbalance.correct_prior_shift`: rebalanced members
        over-predict the minority otherwise.
"""


_MEMBERS_DOC = """
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of estimators
        The fitted members (also ``len(ens)``, ``ens[i]``, iteration).
    estimators_features_ : list of ndarray
        Columns each member was trained on.
    estimators_samples_ : list of ndarray
        Rows drawn for each member, recomputed from the seeds.
"""


class _BaseBagging(MemberEnsembleMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        **MemberEnsembleMixin._parameter_constraints,
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "max_samples": _COUNT_OR_SHARE,
        "max_features": _COUNT_OR_SHARE,
        "bootstrap": ["boolean"],
        "bootstrap_features": ["boolean"],
        "oob_score": ["boolean"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        n_estimators=10,
        *,
        max_samples=1.0,
        max_features=1.0,
        bootstrap=True,
        bootstrap_features=False,
        oob_score=False,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
        engine="auto",
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.bootstrap = bootstrap
        self.bootstrap_features = bootstrap_features
        self.oob_score = oob_score
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.engine = engine

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit ``n_estimators`` members, each on its own draw of rows and columns.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the members with their drawn rows (rows of weight zero are never
            drawn).
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        fit_params = self._member_fit_params(fit_params)
        n_samples, n_features = X.shape
        # A row of weight zero is an absent row (scikit-learn's meaning of weight 0):
        # members draw from the rows that carry weight, so none trains on weightless rows
        # alone, and zero-weight rows are scored out of bag.
        weighted = sample_weight is not None and not sample_weight.all()
        population = np.flatnonzero(sample_weight) if weighted else None
        if self.warm_start and hasattr(self, "estimators_"):
            before = getattr(self, "_population", None)
            if self._n_samples != n_samples or not _same_rows(before, population):
                raise ValueError(
                    "warm_start=True adds members drawn from the rows of the first fit: pass "
                    "the same number of rows, with weight zero on the same rows, or set "
                    "warm_start=False."
                )
        self._n_samples, self._population = n_samples, population
        n_population = n_samples if self._population is None else len(self._population)
        what = "max_samples" if self._population is None else "max_samples (of rows weighing > 0)"
        self._max_samples = resolve_count(
            self.max_samples, n_population, what, replace=self.bootstrap
        )
        self._max_features = resolve_count(self.max_features, n_features, "max_features")
        if self.oob_score and not self.bootstrap and self._max_samples == n_samples:
            raise ValueError(
                "oob_score=True needs rows left out of each member: set bootstrap=True or "
                "max_samples below the number of rows."
            )
        existing = self.estimators_ if self.warm_start and hasattr(self, "estimators_") else []
        if len(existing) > self.n_estimators:
            raise ValueError(
                f"n_estimators={self.n_estimators} is below the {len(existing)} members already "
                "fitted; with warm_start=True raise n_estimators, or set warm_start=False."
            )
        if existing and len(existing) == self.n_estimators:
            warn_user(
                f"warm_start=True with n_estimators={self.n_estimators}, the number of members "
                "already fitted: no member was added. Raise n_estimators to add members.",
                UserWarning,
            )
            return self
        # All seeds from one draw, so a warm start continues the same sequence.
        seeds = draw_seeds(self.random_state, self.n_estimators)
        self._seeds = (
            np.r_[self._seeds[: len(existing)], seeds[len(existing) :]] if existing else seeds
        )
        self._before_plans(X, y)
        template = self._template()
        # Members that stop early monitor their out-of-bag rows, never their own repeats,
        # unless the caller passes rows of its own to monitor (X_val in fit_params).
        validate = (
            getattr(template, "early_stopping", False) is True
            and has_fit_parameter(template, "X_val")
            and "X_val" not in fit_params
        )
        plans = [
            self._plan(seed, sample_weight, y if validate else None)
            for seed in self._seeds[len(existing) :]
        ]
        self._fit_plans(X, y, plans, existing, fit_params)
        self._after_fit(X, y)
        self.estimators_features_ = [self._draw(seed)[1] for seed in self._seeds]
        if self.oob_score:
            self._set_oob(X, y)
        else:  # a refit without oob_score keeps no scores of an earlier ensemble
            for name in ("oob_score_", "oob_decision_function_", "oob_prediction_"):
                vars(self).pop(name, None)
        return self

    def _draw(self, seed):
        """A member's own seed, columns and rows: a pure function of its ensemble seed."""
        rng = np.random.RandomState(seed)
        member_seed = int(rng.randint(MAX_SEED))
        features = _indices(rng, self.bootstrap_features, self.n_features_in_, self._max_features)
        population = self._population
        n_population = self._n_samples if population is None else len(population)
        rows = _indices(rng, self.bootstrap, n_population, self._max_samples)
        rows = self._resample(rng, rows if population is None else population[rows])
        return member_seed, features, rows

    def _resample(self, rng, rows):
        """Rebalance a member's drawn rows (classifiers with ``sampling_strategy``)."""
        return rows

    def _plan(self, seed, sample_weight, y=None) -> MemberPlan:
        """A member's plan; with ``y``, its out-of-bag rows are its validation rows."""
        member_seed, features, rows = self._draw(seed)
        if self._max_features == self.n_features_in_ and not self.bootstrap_features:
            features = None  # all columns, in order
        valid = None if y is None else self._out_of_bag(rows, y)
        return MemberPlan(
            member_seed,
            rows=rows,
            features=features,
            sample_weight=_take(sample_weight, rows),
            valid_rows=valid,
            sample_weight_val=_take(sample_weight, valid),
        )

    def _out_of_bag(self, rows, y) -> np.ndarray | None:
        """The rows a member did not draw (None if it drew them all)."""
        valid = np.setdiff1d(np.arange(len(y)), rows)
        return valid if len(valid) else None

    def _before_plans(self, X, y) -> None:
        """Checks and state the plans need (classifiers: the resampling targets)."""

    def _after_fit(self, X, y) -> None:
        """What a fit adds once the members are trained (classifiers: the class priors)."""

    def _features_of(self, index):
        features = self.estimators_features_[index]
        return (
            None
            if len(features) == self.n_features_in_ and not self.bootstrap_features
            else features
        )

    @property
    def estimators_samples_(self) -> list[np.ndarray]:
        """Rows drawn for each member (repeats included), recomputed from the seeds."""
        return [self._draw(seed)[2] for seed in self._seeds]

    def _set_oob(self, X, y):
        total = None
        seen = np.zeros(X.shape[0])
        for index, rows in enumerate(self.estimators_samples_):
            out = np.ones(X.shape[0], dtype=bool)
            out[rows] = False
            if not out.any():
                continue
            prediction = self._oob_prediction(index, X[out])
            if total is None:
                total = np.zeros((X.shape[0], *prediction.shape[1:]))
            total[out] += prediction
            seen[out] += 1
        if total is None or not seen.any():
            raise ValueError("No row was left out of any member; oob_score cannot be computed.")
        if not seen.all():
            warn_user(
                f"{int((seen == 0).sum())} rows were in every member's sample and have no OOB "
                "prediction (NaN); use more estimators for a reliable OOB estimate.",
                UserWarning,
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            oob = total / seen.reshape(-1, *[1] * (total.ndim - 1))
        self._store_oob(oob, y, seen > 0)


def _same_rows(a, b) -> bool:
    """Whether two row selections (None: all rows) are the same."""
    return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))


def _take(values, rows):
    return None if values is None or rows is None else values[rows]


def _indices(rng, replace: bool, n_population: int, n_draw: int) -> np.ndarray:
    if replace:
        return rng.randint(0, n_population, n_draw)
    return np.sort(rng.choice(n_population, n_draw, replace=False))


class BaggingClassifier(SoftVotingClassifierMixin, _BaseBagging):
    __doc__ = (
        """Bagging (and pasting, random subspaces, random patches) of any classifier.

    Each member is a clone of ``estimator`` trained on its own draw of rows and columns;
    predictions average the members' ``predict_proba`` (soft voting). Members are fitted
    by ensemblekit's member engine in parallel, and every draw comes from ``random_state``
    up front."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC + _BALANCE_DOC, net="NeuralNetClassifier()")
        + """

    Attributes
    ----------"""
        + _MEMBERS_DOC
        + """    classes_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
        Share of each class in the training rows.
    train_prior_ : ndarray of shape (n_classes,)
        Share of each class in the rows the members trained on (after resampling): what
        ``correct_prior`` corrects from.
    oob_score_ : float
        Accuracy of the out-of-bag predictions (when ``oob_score=True``).
    oob_decision_function_ : ndarray of shape (n_samples, n_classes)
        Mean out-of-bag probabilities of each training row (NaN if never left out).

    See Also
    --------
    BaggingRegressor : the same for regression.
    DeepEnsembleClassifier : members on all the rows, differing only by seed.
    CVEnsembleClassifier : one member per cross-validation fold.
    ensemblekit.imbalance.BalancedBatchSampler : balanced batches inside each net instead.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=20, oob_score=True,
    ...                         random_state=0).fit(X, y)
    >>> len(bag), round(bag.oob_score_, 2)
    (20, 0.95)
    """
    )

    _parameter_constraints: ClassVar[dict] = {
        **_BaseBagging._parameter_constraints,
        "sampling_strategy": [
            None,
            StrOptions({"auto"}),
            Interval(Real, 0, 1, closed="right"),
            dict,
        ],
        "replacement": ["boolean"],
        "sampler": [HasMethods(["fit_resample"]), None],
        "correct_prior": ["boolean"],
    }

    def __init__(
        self,
        estimator=None,
        n_estimators=10,
        *,
        max_samples=1.0,
        max_features=1.0,
        bootstrap=True,
        bootstrap_features=False,
        sampling_strategy=None,
        replacement=False,
        sampler=None,
        correct_prior=False,
        oob_score=False,
        warm_start=False,
        n_jobs=None,
        random_state=None,
        verbose=0,
        engine="auto",
    ):
        super().__init__(
            estimator,
            n_estimators,
            max_samples=max_samples,
            max_features=max_features,
            bootstrap=bootstrap,
            bootstrap_features=bootstrap_features,
            oob_score=oob_score,
            warm_start=warm_start,
            n_jobs=n_jobs,
            random_state=random_state,
            verbose=verbose,
            engine=engine,
        )
        self.sampling_strategy = sampling_strategy
        self.replacement = replacement
        self.sampler = sampler
        self.correct_prior = correct_prior

    def _template(self):
        template = super()._template()
        if self.sampler is None:
            return template
        # Resampling inside each member's fit, never before the split: no leakage into OOB
        # rows or a caller's validation folds (imbalanced-learn's pipeline semantics).
        pipeline = import_optional("imblearn.pipeline", "BaggingClassifier's sampler")
        return pipeline.Pipeline([("sampler", clone(self.sampler)), ("estimator", template)])

    def _before_plans(self, X, y):
        if self.sampler is not None and self.sampling_strategy is not None:
            raise ValueError("Set sampling_strategy or sampler, not both.")
        self._y_fit = y
        self._strategy = self.sampling_strategy
        if isinstance(self._strategy, dict):
            unknown = set(self._strategy) - set(self.classes_.tolist())
            if unknown:
                raise ValueError(f"sampling_strategy names classes {sorted(unknown)} not in y.")
            self._strategy = {
                int(np.searchsorted(self.classes_, c)): n for c, n in self._strategy.items()
            }
        if self._strategy is not None:  # fail before any member trains
            resampling_targets(dict(enumerate(np.bincount(y))), self._strategy)

    def _resample(self, rng, rows):
        """imbalanced-learn's meaning: the strategy applies to each member's own draw."""
        if self.sampling_strategy is None:
            return rows
        drawn = np.bincount(self._y_fit[rows], minlength=len(self.classes_))
        counts = {c: int(n) for c, n in enumerate(drawn) if n > 0}
        targets = resampling_targets(counts, self._strategy)
        return resample_rows(rng, rows, self._y_fit, targets, self.replacement)

    def _after_fit(self, X, y):
        self.class_prior_ = np.bincount(y, minlength=len(self.classes_)) / len(y)
        if self.sampler is not None:
            _, y_resampled = clone(self.sampler).fit_resample(X, y)
            shares = np.bincount(y_resampled, minlength=len(self.classes_))
        else:
            shares = sum(
                np.bincount(y[rows], minlength=len(self.classes_))
                for rows in self.estimators_samples_
            )
        self.train_prior_ = shares / shares.sum()

    def predict_proba(self, X):
        """Mean of the members' class probabilities, prior-corrected if ``correct_prior``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self._corrected(super().predict_proba(X))

    def _corrected(self, proba):
        if not self.correct_prior:
            return proba
        return correct_prior_shift(
            proba, train_prior=self.train_prior_, true_prior=self.class_prior_
        )

    def _out_of_bag(self, rows, y):
        """Out-of-bag rows of the classes the member saw: it cannot score the others."""
        valid = super()._out_of_bag(rows, y)
        if valid is None:
            return None
        valid = valid[np.isin(y[valid], y[rows])]
        return valid if len(valid) else None

    def _oob_prediction(self, index, X):
        return self._member_output(index, X)

    def _store_oob(self, oob, y, has_oob):
        oob[has_oob] = self._corrected(oob[has_oob])
        self.oob_decision_function_ = oob
        self.oob_score_ = accuracy_score(y[has_oob], np.argmax(oob[has_oob], axis=1))


class BaggingRegressor(AveragingRegressorMixin, _BaseBagging):
    __doc__ = (
        """Bagging (and pasting, random subspaces, random patches) of any regressor.

    Each member is a clone of ``estimator`` trained on its own draw of rows and columns;
    predictions are the members' mean. Members are fitted by ensemblekit's member engine in
    parallel, and every draw comes from ``random_state`` up front."""
        + _PARAMS_DOC.format(engine=ENGINE_DOC, net="NeuralNetRegressor()")
        + """

    Attributes
    ----------"""
        + _MEMBERS_DOC
        + """    oob_score_ : float
        R² of the out-of-bag predictions (when ``oob_score=True``).
    oob_prediction_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        Mean out-of-bag prediction of each training row (NaN if never left out).

    See Also
    --------
    BaggingClassifier : the same for classification.
    DeepEnsembleRegressor : members on all the rows, differing only by seed.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(), n_estimators=30, oob_score=True,
    ...                        random_state=0).fit(X, y)
    >>> bool(0.3 < bag.oob_score_ < 0.6)
    True
    """
    )

    def _oob_prediction(self, index, X):
        return self.estimators_[index].predict(self._member_X(X, index))

    def _store_oob(self, oob, y, has_oob):
        self.oob_prediction_ = oob
        self.oob_score_ = r2_score(y[has_oob], oob[has_oob])
