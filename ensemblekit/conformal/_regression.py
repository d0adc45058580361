"""Conformal prediction intervals around a regressor: split conformal, CV+ and CV-minmax
from fold models, and the jackknife+ after bootstrap from a bagging ensemble's members."""

from __future__ import annotations

from numbers import Integral
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, RegressorMixin, clone, is_regressor
from sklearn.model_selection import check_cv, train_test_split
from sklearn.utils import get_tags
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
)

from ..engine import cross_fit
from ..ensemble import BaggingRegressor, CVEnsembleRegressor
from ..utils._mixins import all_or_nothing
from ..utils._private import HasMethods, Interval, RealNotInt, StrOptions
from ..utils._random import check_random_state, draw_seeds, set_random_states
from ._common import at_levels, fitted_bagging, fold_of_each_row, out_of_bag
from ._cqr import QuantileModels, quantiles_for
from ._quantiles import check_levels, lower, upper, warn_if_unbounded

METHODS = ("split", "cv_plus", "cv_minmax", "jackknife_plus_ab", "cqr")
#: Test points per block of the "plus" intervals (a block holds points x calibration rows).
_CHUNK = 256


class ConformalRegressor(RegressorMixin, MetaEstimatorMixin, BaseEstimator):
    """Prediction intervals with a coverage guarantee, around any regressor.

    Conformal prediction turns a model's errors on rows it did not see into intervals
    that hold a new row's target with probability at least ``confidence_level`` when the
    rows are exchangeable (drawn alike, in any order), whatever the model:

    - ``"split"``: the model is fitted on part of the rows (or given fitted, with
      ``prefit=True``); its absolute residuals on the others (the calibration rows)
      give the interval's half-width, their ceil(level (n + 1))-th smallest. Coverage
      is at least the level.
    - ``"cv_plus"`` (Barber et al. 2021): one model per fold of ``cv``; each row's
      residual is taken against the fold model that did not see it, and a new row's
      interval from the n values ``mu_k(i)(x) -/+ R_i``. Coverage is at least
      ``2 * level - 1`` in theory, near the level in practice. It uses every row for
      both fitting and calibrating. A fitted :class:`~ensemblekit.ensemble.CVEnsembleRegressor`
      brings its fold members with ``prefit=True``.
    - ``"cv_minmax"``: as CV+, with the interval from the smallest to the largest fold
      prediction, widened by the residuals' quantile; coverage at least the level.
    - ``"jackknife_plus_ab"`` (Kim, Xu & Barber 2020): from a
      :class:`~ensemblekit.ensemble.BaggingRegressor`'s members, each row's residual
      against the members that did not draw it (out of bag), aggregated by
      ``aggregation``. It needs no fit beyond the bagging fit (with ``prefit=True``
      none at all); coverage at least ``2 * level - 1``.

    - ``"cqr"`` (Romano, Patterson & Candès 2019): conformalized quantile regression.
      Models of each level's lower and upper quantiles of y given x are fitted on part
      of the rows and widened by the calibration rows' largest miss; intervals are as
      wide as the model finds the noise, row by row. A ``NeuralNetRegressor`` learns
      every quantile in one fit (the outputs of one module trained on
      :class:`~ensemblekit.nets.PinballLoss`); a scikit-learn quantile regressor
      (``HistGradientBoostingRegressor(loss="quantile")``) is fitted once per quantile.
      Coverage at least the level.

    With ``conformity_score="normalized"`` (split only), residuals are divided by the model's
    predicted spread, ``predict(X, return_std=True)`` (a deep ensemble's, or a net
    trained with ``GaussianNLLLoss``), so intervals are wide where the model is unsure.

    Parameters
    ----------
    estimator : regressor
        For ``"jackknife_plus_ab"``, a ``BaggingRegressor``; for the CV methods with
        ``prefit=True``, a fitted ``CVEnsembleRegressor``; for ``"cqr"``, a
        ``NeuralNetRegressor`` or a regressor with a ``quantile`` parameter (with
        ``prefit=True``, a net trained with ``PinballLoss`` on the quantiles each level needs,
        ``(1 - level) / 2`` and ``(1 + level) / 2``, and 0.5).
    method : {"split", "cv_plus", "cv_minmax", "jackknife_plus_ab", "cqr"}, default="split"
    confidence_level : float or list of float, default=0.9
        The share of new targets the intervals should hold; several give intervals at
        each level.
    conformity_score : {"absolute", "normalized"}, default="absolute"
        The residual, or the residual over the model's predicted spread.
    calibration_size : float or int, default=0.3
        The rows ``"split"`` and ``"cqr"`` hold out to calibrate (a share or a count).
    cv : int or cross-validation splitter, default=5
        The folds of the CV methods; each row must be tested exactly once.
    aggregation : {"mean", "median"}, default="mean"
        How ``"jackknife_plus_ab"`` combines a row's out-of-bag members.
    prefit : bool, default=False
        Use ``estimator`` as fitted: ``fit(X, y)`` then only calibrates. For ``"split"``
        ``X, y`` are the calibration rows; for ``"jackknife_plus_ab"`` the rows the
        bagging estimator was fitted on.
    random_state : None, int or RandomState, default=None
        The calibration split, and the seeds of the fold models.
    n_jobs : int, default=None
        Fold models fitted in parallel (through ensemblekit's member engine).

    Attributes
    ----------
    estimator_ : regressor
        The fitted model that ``predict`` uses (for the CV methods, a
        ``CVEnsembleRegressor`` when one was given, else None).
    conformity_scores_ : ndarray of shape (n_calibration,), or (n_calibration, n_levels) for
        ``"cqr"``
        The calibration residuals (NaN for a row no member left out); for ``"cqr"``, how
        far each row's target lies outside its quantile band at each level (negative
        inside).
    quantile_models_ : QuantileModels
        ``"cqr"`` only: ``quantile_models_(X)`` predicts the learned quantiles.
    levels_ : ndarray of shape (n_levels,)

    See Also
    --------
    ensemblekit.metrics.coverage_score : the share of targets inside their intervals.
    ensemblekit.metrics.mean_width_score : the intervals' mean width.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import LinearRegression
    >>> from ensemblekit.conformal import ConformalRegressor
    >>> X, y = make_regression(500, 5, noise=10, random_state=0)
    >>> model = ConformalRegressor(LinearRegression(), confidence_level=[0.5, 0.9],
    ...                            random_state=0).fit(X[:400], y[:400])
    >>> intervals = model.predict_interval(X[400:])
    >>> intervals.shape
    (100, 2, 2)
    >>> inside = (intervals[:, 0] <= y[400:, None]) & (y[400:, None] <= intervals[:, 1])
    >>> inside.mean(axis=0).round(2).tolist()
    [0.59, 0.91]
    """

    _parameter_constraints: ClassVar[dict] = {
        "estimator": [HasMethods(["fit", "predict"])],
        "method": [StrOptions(set(METHODS))],
        "confidence_level": ["array-like", Interval(RealNotInt, 0, 1, closed="neither")],
        "conformity_score": [StrOptions({"absolute", "normalized"})],
        "calibration_size": [
            Interval(RealNotInt, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "cv": ["cv_object"],
        "aggregation": [StrOptions({"mean", "median"})],
        "prefit": ["boolean"],
        "random_state": ["random_state"],
        "n_jobs": [None, Integral],
    }

    def __init__(
        self, estimator, *, method="split", confidence_level=0.9, conformity_score="absolute",
        calibration_size=0.3, cv=5, aggregation="mean", prefit=False, random_state=None,
        n_jobs=None,
    ):  # fmt: skip
        self.estimator = estimator
        self.method = method
        self.confidence_level = confidence_level
        self.conformity_score = conformity_score
        self.calibration_size = calibration_size
        self.cv = cv
        self.aggregation = aggregation
        self.prefit = prefit
        self.random_state = random_state
        self.n_jobs = n_jobs

    @all_or_nothing
    def fit(self, X, y):
        """Fit the model (unless ``prefit``) and calibrate its intervals.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Finite targets.

        Returns
        -------
        self
        """
        self._validate_params()
        self.levels_ = check_levels(self.confidence_level)
        if not is_regressor(self.estimator):
            raise TypeError(f"estimator must be a regressor, got {type(self.estimator).__name__}.")
        X = check_array(X, dtype=None, ensure_all_finite=False)
        y = column_or_1d(y, warn=True)
        y = check_array(y, ensure_2d=False, dtype="numeric", ensure_all_finite=False)
        check_consistent_length(X, y)
        y = y.astype(float)
        if not np.all(np.isfinite(y)):
            raise ValueError(
                f"y holds {int((~np.isfinite(y)).sum())} NaN or infinite targets: a "
                "conformal interval is calibrated on targets, so each must be a number."
            )
        if self.conformity_score == "normalized" and self.method != "split":
            raise ValueError(
                f"conformity_score='normalized' works with method='split', not {self.method!r}."
            )
        calibrate = {
            "split": self._fit_split,
            "jackknife_plus_ab": self._fit_jackknife_ab,
            "cqr": self._fit_cqr,
        }.get(self.method, self._fit_cv)
        calibrate(X, y)
        self.n_features_in_ = X.shape[1]
        scores = self.conformity_scores_.reshape(len(self.conformity_scores_), -1)
        n = int(np.sum(~np.isnan(scores[:, 0])))
        warn_if_unbounded(n, self.levels_, "calibration residuals")
        return self

    # ------------------------------------------------------------------ calibration
    def _calibration_split(self, X, y):
        """(X_fit, y_fit, X_cal, y_cal, fit_seed): the rows to fit on (None with
        ``prefit``) and to calibrate on."""
        if self.prefit:
            check_is_fitted(self.estimator)
            return None, None, X, y, None
        split_seed, fit_seed = draw_seeds(check_random_state(self.random_state), 2)
        X_fit, X_cal, y_fit, y_cal = train_test_split(
            X, y, test_size=self.calibration_size, random_state=int(split_seed)
        )
        return X_fit, y_fit, X_cal, y_cal, int(fit_seed)

    def _fit_split(self, X, y) -> None:
        X_fit, y_fit, X_cal, y_cal, fit_seed = self._calibration_split(X, y)
        if self.prefit:
            estimator = self.estimator
        else:
            # An estimator left unseeded gets a seed of the random_state: same state, same fit.
            estimator = set_random_states(clone(self.estimator), fit_seed, only_unset=True)
            estimator.fit(X_fit, y_fit)
        centre, spread = self._centre_spread(estimator, X_cal)
        self.estimator_ = estimator
        self.conformity_scores_ = np.abs(y_cal - centre) / spread

    def _fit_cqr(self, X, y) -> None:
        X_fit, y_fit, X_cal, y_cal, fit_seed = self._calibration_split(X, y)
        models = QuantileModels(
            self.estimator, quantiles_for(self.levels_), fit_seed, X_fit, y_fit, self.prefit
        )
        predicted = models(X_cal)
        scores = []
        for level in self.levels_:
            low, high = models.band(predicted, level)
            scores.append(np.maximum(low - y_cal, y_cal - high))
        self.estimator_, self.quantile_models_ = None, models
        self.conformity_scores_ = np.stack(scores, axis=1)

    def _centre_spread(self, estimator, X):
        if self.conformity_score == "absolute":
            return np.asarray(estimator.predict(X), dtype=float), 1.0
        try:
            centre, spread = estimator.predict(X, return_std=True)
        except TypeError:
            raise TypeError(
                f"conformity_score='normalized' divides residuals by the predicted spread, and "
                f"{type(estimator).__name__}.predict takes no return_std. Use a deep "
                "ensemble or a net trained with GaussianNLLLoss, or conformity_score='absolute'."
            ) from None
        spread = np.asarray(spread, dtype=float)
        if np.any(~np.isfinite(spread) | (spread <= 0)):
            raise ValueError(
                "conformity_score='normalized' needs a positive, finite predicted spread for every "
                f"row; {type(estimator).__name__} gave {int((spread <= 0).sum())} at 0 or "
                "below. Use conformity_score='absolute'."
            )
        return np.asarray(centre, dtype=float), spread

    def _fit_cv(self, X, y) -> None:
        if self.prefit:
            if not isinstance(self.estimator, CVEnsembleRegressor):
                raise TypeError(
                    f"method={self.method!r} with prefit=True takes a fitted "
                    f"CVEnsembleRegressor (its fold members), got "
                    f"{type(self.estimator).__name__}. Or pass prefit=False."
                )
            check_is_fitted(self.estimator)
            ensemble, members, splits = self.estimator, None, self.estimator.splits_
        else:
            ensemble = None
            if isinstance(self.estimator, CVEnsembleRegressor):
                ensemble = clone(self.estimator).fit(X, y)
                splits = ensemble.splits_
            else:
                splits = list(check_cv(self.cv).split(X, y))
        fold_of = fold_of_each_row(splits, len(X))
        if ensemble is None:
            members = cross_fit(
                self.estimator, X, y, splits, random_state=self.random_state,
                n_jobs=self.n_jobs, predictions=False,
            )[0]  # fmt: skip
        else:
            members = ensemble.estimators_
        oof = np.empty(len(X))
        for k, (_, test) in enumerate(splits):
            oof[test] = members[k].predict(X[test])
        self.estimator_, self.members_, self.fold_of_ = ensemble, list(members), fold_of
        self.conformity_scores_ = np.abs(y - oof)

    def _fit_jackknife_ab(self, X, y) -> None:
        # An unset random_state of the bagging estimator is seeded: same state, same fit.
        fit_seed = int(draw_seeds(check_random_state(self.random_state), 2)[1])
        bagging = fitted_bagging(self.estimator, BaggingRegressor, self.prefit, X, y, fit_seed)
        out = out_of_bag(bagging, len(X))
        self.estimator_, self.out_of_bag_ = bagging, out
        members = bagging.predict_members(X).T  # (n_rows, n_members)
        own = np.array([self._combine(members[i], out[i]) for i in range(len(X))])
        self.conformity_scores_ = np.abs(y - own)  # NaN where no member left the row out

    def _combine(self, predictions: np.ndarray, keep: np.ndarray) -> float:
        if not keep.any():
            return np.nan
        kept = predictions[keep]
        return float(kept.mean() if self.aggregation == "mean" else np.median(kept))

    def _aggregate(self, member_predictions: np.ndarray, out: np.ndarray) -> np.ndarray:
        """(n_points, n_rows): at each point, row i's out-of-bag members combined
        (``member_predictions``: (n_points, n_members))."""
        if self.aggregation == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                return (member_predictions @ out.T) / out.sum(axis=1)
        result = np.full((len(member_predictions), len(out)), np.nan)
        patterns, inverse = np.unique(out, axis=0, return_inverse=True)
        for p, pattern in enumerate(patterns):
            if pattern.any():
                median = np.median(member_predictions[:, pattern], axis=1)
                result[:, inverse.ravel() == p] = median[:, None]
        return result

    # ------------------------------------------------------------------ prediction
    def predict(self, X) -> np.ndarray:
        """The point prediction: the model's (for the CV methods without a CV ensemble,
        the mean of the fold models').

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "conformity_scores_")
        if self.method == "cqr":
            return self.quantile_models_(X)[:, self.quantile_models_.quantiles.index(0.5)]
        if self.estimator_ is not None:
            return np.asarray(self.estimator_.predict(X), dtype=float)
        return np.mean([member.predict(X) for member in self.members_], axis=0)

    def predict_interval(self, X, confidence_level=None) -> np.ndarray:
        """The intervals at each confidence level.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        confidence_level : float or list of float, default=None
            Levels other than the fitted ones (the calibration is kept: no refit).

        Returns
        -------
        intervals : ndarray of shape (n_samples, 2), or (n_samples, 2, n_levels) for a
            list of levels
            Lower and upper bounds; infinite when too few rows calibrated the level.
        """
        check_is_fitted(self, "conformity_scores_")
        chunk = _CHUNK if self.method in ("cv_plus", "jackknife_plus_ab") else None
        return at_levels(
            self,
            len(X),
            confidence_level,
            chunk,
            lambda rows, levels: self._intervals(X[rows], levels),
        )

    def _intervals(self, X, levels) -> np.ndarray:
        scores = self.conformity_scores_
        if self.method == "cqr":
            return self._cqr_intervals(X, levels)
        bounds = []
        for level in levels:
            if self.method in ("split", "cv_minmax"):
                half = upper(scores, level)
                if self.method == "split":
                    centre, spread = self._centre_spread(self.estimator_, X)
                    low, high = centre - half * spread, centre + half * spread
                else:
                    folds = self._fold_predictions(X)
                    low, high = folds.min(axis=1) - half, folds.max(axis=1) + half
            else:
                centres = self._loo_centres(X)  # (n_points, n_rows)
                low = lower(centres - scores, level, axis=1)
                high = upper(centres + scores, level, axis=1)
            bounds.append(np.stack([low, high], axis=1))
        return np.stack(bounds, axis=-1)

    def _cqr_intervals(self, X, levels) -> np.ndarray:
        unknown = [level for level in levels if level not in self.levels_]
        if unknown:
            raise ValueError(
                f"method='cqr' learned the quantiles of the levels {self.levels_.tolist()}, "
                f"not of {unknown}: fit with confidence_level including them."
            )
        predicted = self.quantile_models_(X)
        bounds = []
        for level in levels:
            half = upper(self.conformity_scores_[:, list(self.levels_).index(level)], level)
            low, high = self.quantile_models_.band(predicted, level)
            low, high = low - half, high + half  # half < 0 narrows the band
            # Narrowed past its middle the interval is empty; a point holds as little.
            crossed = low > high
            low[crossed] = high[crossed] = (low[crossed] + high[crossed]) / 2
            bounds.append(np.stack([low, high], axis=1))
        return np.stack(bounds, axis=-1)

    def _loo_centres(self, X) -> np.ndarray:
        """At each point, the prediction of the model(s) that did not see each row."""
        if self.method == "jackknife_plus_ab":
            members = self.estimator_.predict_members(X).T
            return self._aggregate(members, self.out_of_bag_)
        return self._fold_predictions(X)[:, self.fold_of_]

    def _fold_predictions(self, X) -> np.ndarray:
        """(n_points, n_folds): each fold model's prediction."""
        return np.stack([m.predict(X) for m in self.members_], axis=1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = get_tags(self.estimator).input_tags.allow_nan
        return tags
