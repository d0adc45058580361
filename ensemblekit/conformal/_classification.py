"""Conformal prediction sets around a classifier: split conformal, CV+ from fold models,
and the jackknife+ after bootstrap from a bagging ensemble's members; marginal or
class-conditional (Mondrian) calibration."""

from __future__ import annotations

from functools import partial
from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone, is_classifier
from sklearn.model_selection import train_test_split
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, check_X_y

from ..ensemble import BaggingClassifier, CVEnsembleClassifier
from ..utils._fit_warnings import warn_user
from ..utils._mixins import all_or_nothing
from ..utils._private import HasMethods, Interval, RealNotInt, StrOptions
from ..utils._random import check_random_state, draw_seeds, set_random_states
from ..utils._validation import plain
from ._common import at_levels, fitted_bagging, fold_of_each_row, out_of_bag
from ._quantiles import check_levels, rows_needed, upper
from ._set_scores import SCORES, admits, label_scores, true_scores

METHODS = ("split", "cv_plus", "jackknife_plus_ab")
#: Test points per block of the "plus" sets (a block holds points x rows x classes).
_CHUNK = 64


class ConformalClassifier(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Prediction sets with a coverage guarantee, around any probabilistic classifier.

    A prediction set holds the labels a new row may plausibly have; conformal calibration
    makes it hold the true label with probability at least ``confidence_level`` when rows
    are exchangeable, whatever the model. Its size says how unsure the model is: one
    label where it is sure, several where it is not.

    Where the model's probabilities come from (``method``):

    - ``"split"``: the model is fitted on part of the rows (or given fitted, with
      ``prefit=True``) and calibrated on the others. Coverage at least the level.
    - ``"cv_plus"`` (Romano et al. 2020): one model per fold of ``cv``, each row
      scored by the fold model that did not see it; a label joins a new row's set when
      enough rows' scores, each against its own fold model, admit it. Coverage at least
      ``2 * level - 1`` in theory, near the level in practice. A fitted
      :class:`~ensemblekit.ensemble.CVEnsembleClassifier` brings its fold models with
      ``prefit=True``.
    - ``"jackknife_plus_ab"``: as CV+, each row scored by the mean probabilities of the
      :class:`~ensemblekit.ensemble.BaggingClassifier` members that did not draw it; no fit
      beyond the bagging fit.

    How a label is scored (``conformity_score``): ``"lac"``, one minus its probability (the
    smallest sets on average, but unsure rows may get an empty set); ``"aps"``, the
    probability ranked above it (sets that grow where the model is unsure, never
    empty); ``"raps"``, APS with a penalty ``lambda_reg`` per rank beyond ``k_reg`` (smaller
    sets than APS when many labels have small probabilities); ``"top_k"``, its rank (the
    same set size for every row).

    APS and RAPS sets always hold the most probable label and cover at least the level,
    often above it; ``randomized=True`` breaks the last label's tie with a uniform draw
    per row (seeded), for coverage near the level (Romano et al. 2020), at the price of
    sets that may be empty.

    With ``mondrian=True`` each class is calibrated on its own rows, so that each class,
    also a rare one, gets its coverage, not only the classes together.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        For ``"jackknife_plus_ab"``, a ``BaggingClassifier``; for ``"cv_plus"`` with
        ``prefit=True``, a fitted ``CVEnsembleClassifier``.
    method : {"split", "cv_plus", "jackknife_plus_ab"}, default="split"
    confidence_level : float or list of float, default=0.9
        The share of true labels the sets should hold; several give sets at each level.
    conformity_score : {"lac", "aps", "raps", "top_k"}, default="lac"
    mondrian : bool, default=False
        Calibrate each class on its own rows (class-conditional coverage).
    calibration_size : float or int, default=0.3
        The rows ``"split"`` holds out to calibrate (a share or a count).
    cv : int or cross-validation splitter, default=5
        The folds of ``"cv_plus"``; each row must be tested exactly once.
    k_reg : int, default=1
        RAPS: the number of top labels free of the rank penalty.
    lambda_reg : float, default=0.01
        RAPS: the penalty per rank beyond ``k_reg``.
    randomized : bool, default=False
        APS and RAPS: randomized sets (coverage near the level, not above it).
    prefit : bool, default=False
        Use ``estimator`` as fitted: ``fit(X, y)`` then only calibrates. For ``"split"``
        ``X, y`` are the calibration rows; for ``"jackknife_plus_ab"`` the rows the
        bagging estimator was fitted on.
    random_state : None, int or RandomState, default=None
        The calibration split, the fold models' seeds, and the uniform draws of APS and
        RAPS.
    n_jobs : int, default=None
        Fold models fitted in parallel (through ensemblekit's member engine).

    Attributes
    ----------
    estimator_ : classifier
        The fitted model that ``predict_proba`` uses.
    classes_ : ndarray of shape (n_classes,)
    conformity_scores_ : ndarray of shape (n_calibration,)
        The calibration rows' scores (NaN for a row no member left out).
    levels_ : ndarray of shape (n_levels,)

    See Also
    --------
    ConformalRegressor : intervals with a coverage guarantee.
    ensemblekit.metrics.set_coverage_score : the share of true labels inside their sets.
    ensemblekit.metrics.mean_set_size : the sets' mean size.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.conformal import ConformalClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> model = ConformalClassifier(LogisticRegression(max_iter=2000),
    ...                             conformity_score="aps", random_state=0)
    >>> sets = model.fit(X[:1200], y[:1200]).predict_set(X[1200:])
    >>> sets.shape
    (597, 10)
    >>> bool(sets[range(597), y[1200:]].mean() >= 0.85)
    True
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "method": [StrOptions(set(METHODS))],
        "confidence_level": ["array-like", Interval(RealNotInt, 0, 1, closed="neither")],
        "conformity_score": [StrOptions(set(SCORES))],
        "mondrian": ["boolean"],
        "calibration_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "cv": ["cv_object"],
        "k_reg": [Interval(Integral, 0, None, closed="left")],
        "lambda_reg": [Interval(RealNotInt, 0, None, closed="left")],
        "randomized": ["boolean"],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self, estimator, *, method="split", confidence_level=0.9, conformity_score="lac",
        mondrian=False, calibration_size=0.3, cv=5, k_reg=1, lambda_reg=0.01, randomized=False,
        prefit=False, random_state=None, n_jobs=None,
    ):  # fmt: skip
        self.estimator = estimator
        self.method = method
        self.confidence_level = confidence_level
        self.conformity_score = conformity_score
        self.mondrian = mondrian
        self.calibration_size = calibration_size
        self.cv = cv
        self.k_reg = k_reg
        self.lambda_reg = lambda_reg
        self.randomized = randomized
        self.prefit = prefit
        self.random_state = random_state
        self.n_jobs = n_jobs

    @all_or_nothing
    def fit(self, X, y):
        """Fit the model (unless ``prefit``) and calibrate its sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels, none missing (NaN).

        Returns
        -------
        self
        """
        self._validate_params()
        self.levels_ = check_levels(self.confidence_level)
        if not is_classifier(self.estimator):
            raise TypeError(f"estimator must be a classifier, got {type(self.estimator).__name__}.")
        X, y = check_X_y(X, y, dtype=None, ensure_all_finite=False)  # y: no NaN
        rng = check_random_state(self.random_state)
        split_seed, fit_seed, self._set_seed = (int(s) for s in draw_seeds(rng, 3))
        fit = {"split": self._fit_split, "cv_plus": self._fit_cv}.get(
            self.method, self._fit_jackknife_ab
        )
        proba, y = fit(X, y, split_seed, fit_seed)
        y_enc = _encode(y, self.classes_, "y")
        # Uniform draws for APS and RAPS, from the same state: same seed, same sets.
        u = rng.uniform(size=len(y_enc))
        scores = np.full(len(y_enc), np.nan)
        rows = ~np.isnan(proba).any(axis=1)
        scores[rows] = true_scores(
            proba[rows], y_enc[rows], u[rows], self.conformity_score, self.k_reg, self.lambda_reg
        )
        self.conformity_scores_, self.calibration_labels_ = scores, y_enc
        self.n_features_in_ = X.shape[1]
        self._warn_if_unbounded()
        return self

    # ------------------------------------------------------------------ calibration
    def _fit_split(self, X, y, split_seed, fit_seed):
        if self.prefit:
            check_is_fitted(self.estimator)
            estimator, X_cal, y_cal = self.estimator, X, y
            self.classes_ = np.asarray(estimator.classes_)
        else:
            self.classes_ = _classes_of(y)
            X_fit, X_cal, y_fit, y_cal = train_test_split(
                X, y, test_size=self.calibration_size, random_state=split_seed
            )
            # An estimator left unseeded gets a seed of the random_state: same state, same fit.
            estimator = set_random_states(clone(self.estimator), fit_seed, only_unset=True)
            estimator.fit(X_fit, y_fit)
        self.estimator_ = estimator
        return self._proba(estimator, X_cal), y_cal

    def _fit_cv(self, X, y, split_seed, fit_seed):
        if self.prefit:
            if not isinstance(self.estimator, CVEnsembleClassifier):
                raise TypeError(
                    "method='cv_plus' with prefit=True takes a fitted CVEnsembleClassifier "
                    f"(its fold members), got {type(self.estimator).__name__}. Or pass "
                    "prefit=False."
                )
            check_is_fitted(self.estimator)
            ensemble = self.estimator
            if len(ensemble.oof_predictions_) != len(X):
                raise ValueError(
                    f"X has {len(X)} rows, but the CV ensemble was fitted on "
                    f"{len(ensemble.oof_predictions_)}: with prefit=True, pass the rows it "
                    "was fitted on."
                )
        else:
            if isinstance(self.estimator, CVEnsembleClassifier):
                ensemble = clone(self.estimator)
            else:
                ensemble = CVEnsembleClassifier(
                    self.estimator, cv=self.cv, n_jobs=self.n_jobs, random_state=fit_seed
                )
            ensemble.fit(X, y)
        self.classes_ = np.asarray(ensemble.classes_)
        self.estimator_, self.fold_of_ = ensemble, fold_of_each_row(ensemble.splits_, len(X))
        return np.asarray(ensemble.oof_predictions_, dtype=float), y

    def _fit_jackknife_ab(self, X, y, split_seed, fit_seed):
        bagging = fitted_bagging(self.estimator, BaggingClassifier, self.prefit, X, y, fit_seed)
        self.classes_ = np.asarray(bagging.classes_)
        self.out_of_bag_ = out_of_bag(bagging, len(X))
        self.estimator_ = bagging
        members = bagging.predict_members(X)  # (n_members, n_rows, n_classes)
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN: no member left it out
            weights = self.out_of_bag_ / self.out_of_bag_.sum(axis=1, keepdims=True)
        return np.einsum("mic,im->ic", members, weights), y

    def _warn_if_unbounded(self) -> None:
        scored = ~np.isnan(self.conformity_scores_)
        groups = (
            [(self.classes_[c], self.calibration_labels_ == c) for c in range(len(self.classes_))]
            if self.mondrian
            else [(None, np.ones_like(scored))]
        )
        level = self.levels_.max()
        for label, rows in groups:
            n = int(np.sum(scored & rows))
            if np.ceil(level * (n + 1) - 1e-12) > n:
                where, effect = (
                    ("", "every set holds every label")
                    if label is None
                    else (f" of class {plain(label)!r}", "the class joins every set")
                )
                warn_user(
                    f"{n} calibration rows{where} are too few for confidence_level="
                    f"{level:g}: {effect}. It needs at least {rows_needed(level)}.",
                    UserWarning,
                )

    # ------------------------------------------------------------------ prediction
    def _proba(self, estimator, X) -> np.ndarray:
        """``estimator``'s probabilities in the columns of ``classes_`` (a class it never
        saw gets 0)."""
        proba = np.asarray(estimator.predict_proba(X), dtype=float)
        own = np.asarray(estimator.classes_)
        if len(own) == len(self.classes_) and np.array_equal(own, self.classes_):
            return proba
        aligned = np.zeros((len(proba), len(self.classes_)))
        aligned[:, _encode(own, self.classes_, "the estimator's classes_")] = proba
        return aligned

    def _left_out_proba(self, X) -> np.ndarray:
        """(n_points, n_rows, n_classes): at each point, the probabilities of the model(s)
        that did not see each calibration row (its fold model, or its out-of-bag members'
        mean)."""
        members = self.estimator_.predict_members(X)  # (n_members, n_points, n_classes)
        if self.method == "cv_plus":
            return np.moveaxis(members, 0, 1)[:, self.fold_of_]
        weights = self.out_of_bag_ / np.maximum(self.out_of_bag_.sum(axis=1, keepdims=True), 1)
        return np.einsum("mpc,rm->prc", members, weights)

    def predict_proba(self, X) -> np.ndarray:
        """The model's class probabilities (for ``"cv_plus"``, the fold models' mean).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "conformity_scores_")
        return self._proba(self.estimator_, X)

    def predict(self, X) -> np.ndarray:
        """The most probable label.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_set(self, X, confidence_level=None) -> np.ndarray:
        """The prediction sets at each confidence level.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        confidence_level : float or list of float, default=None
            Levels other than the fitted ones (the calibration is kept: no refit).

        Returns
        -------
        sets : ndarray of bool of shape (n_samples, n_classes), or (n_samples, n_classes,
            n_levels) for a list of levels
            True where the label (a column of ``classes_``) is in the set.
        """
        check_is_fitted(self, "conformity_scores_")
        u = None
        if self.randomized and self.conformity_score in ("aps", "raps"):
            u = np.random.RandomState(self._set_seed).uniform(size=len(X))
        return at_levels(
            self, len(X), confidence_level, None if self.method == "split" else _CHUNK,
            lambda rows, levels: self._sets(X[rows], None if u is None else u[rows], levels),
        )  # fmt: skip

    def _sets(self, X, u, levels) -> np.ndarray:
        kind, n_classes = self.conformity_score, len(self.classes_)
        score = partial(label_scores, kind=kind, k_reg=self.k_reg, lambda_reg=self.lambda_reg, u=u)
        admit = partial(admits, kind=kind, randomized=u is not None)
        scored = ~np.isnan(self.conformity_scores_)
        rows = self.conformity_scores_[scored]
        labels = self.calibration_labels_[scored]
        if self.mondrian:  # (n_rows, n_classes): which rows calibrate each label
            counts_for = labels[:, None] == np.arange(n_classes)
        else:
            counts_for = np.ones((len(rows), n_classes), dtype=bool)
        n = counts_for.sum(axis=0)  # rows per label
        if self.method == "split":
            scores = score(self.predict_proba(X))
        else:  # (n_points, n_rows, n_classes): row i's model admits the label at its score
            passed = admit(score(self._left_out_proba(X)[:, scored]), rows[None, :, None])
            passing = np.sum(passed & counts_for, axis=1)
        sets = []
        for level in levels:
            if self.method == "split":
                threshold = [upper(rows[counts_for[:, c]], level) for c in range(n_classes)]
                sets.append(admit(scores, np.array(threshold)))
            else:  # the label's score is at most the k-th smallest of its rows' scores
                k = np.ceil(level * (n + 1) - 1e-12).astype(int)
                sets.append(passing >= n - k + 1)
        return np.stack(sets, axis=-1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return tags


def _classes_of(y) -> np.ndarray:
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(
            f"y must hold at least 2 classes to calibrate sets, got 1 class: {classes.tolist()}."
        )
    return classes


def _encode(labels, classes, what: str) -> np.ndarray:
    """Positions of ``labels`` in ``classes``; a ValueError naming labels not in it."""
    labels = np.asarray(labels)
    unseen = ~np.isin(labels, classes)
    if unseen.any():
        raise ValueError(
            f"{what} holds classes the model was not fitted on: "
            f"{np.unique(labels[unseen]).tolist()[:10]} (it knows {classes.tolist()[:10]}). "
            "Calibrate on rows of the fitted classes, or refit on rows that hold them."
        )
    return np.searchsorted(classes, labels)
