"""How many members pay: an ensemble's score against its number of members."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.utils.validation import check_consistent_length

from ..metrics import check_scoring
from ..utils._optional import axes_for, import_optional
from ..utils._pipeline import final_step
from ..utils._random import check_random_state
from ..utils._results import ArrayFieldsEqual
from ._uncertainty import member_predictions


class _FixedClassifier(ClassifierMixin, BaseEstimator):
    """Answers with probabilities computed beforehand, so that any scorer can score them."""

    def __init__(self, classes, proba):
        self.classes, self.proba = classes, proba
        self.classes_ = classes

    def predict_proba(self, X):
        return self.proba

    def predict(self, X):
        return self.classes_[self.proba.argmax(axis=1)]


class _FixedRegressor(RegressorMixin, BaseEstimator):
    def __init__(self, prediction):
        self.prediction = prediction

    def predict(self, X):
        return self.prediction


@dataclass(frozen=True, eq=False)
class EnsembleSizeCurve(ArrayFieldsEqual):
    """Scores of the first k members' ensemble, k = 1..M, over random member orderings.

    Attributes
    ----------
    sizes : ndarray of shape (n_members,)
        1, 2, ..., M.
    scores : ndarray of shape (n_orderings, n_members)
        Row o: the score of the first k members of ordering o, for each k.
    scoring : str

    See Also
    --------
    ensemble_size_curve : the function that returns it.
    EnsembleSizeDisplay : its plot.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> from ensemblekit.model_selection import ensemble_size_curve
    >>> X, y = load_diabetes(return_X_y=True)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=6,
    ...                        random_state=0).fit(X[:300], y[:300])
    >>> curve = ensemble_size_curve(bag, X[300:], y[300:], scoring="r2", n_orderings=4,
    ...                             random_state=0)
    >>> curve.sizes, curve.scores.shape, curve.scoring
    (array([1, 2, 3, 4, 5, 6]), (4, 6), 'r2')
    """

    sizes: np.ndarray
    scores: np.ndarray
    scoring: str

    @property
    def mean(self) -> np.ndarray:
        """Mean score over the orderings, per size."""
        return self.scores.mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        """Standard deviation over the orderings, per size (0 at size M: all members)."""
        return self.scores.std(axis=0)

    def __repr__(self) -> str:
        return (
            f"EnsembleSizeCurve({self.scoring}: {self.mean[0]:.4f} with 1 member, "
            f"{self.mean[-1]:.4f} with {self.sizes[-1]}; {len(self.scores)} orderings)"
        )

    def plot(self, ax=None, **kwargs) -> EnsembleSizeDisplay:
        """Draw the curve (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes or None, default=None
            A new figure if None.
        **kwargs
            Passed to :meth:`EnsembleSizeDisplay.plot` (``label``).

        Returns
        -------
        display : EnsembleSizeDisplay
        """
        return EnsembleSizeDisplay(self).plot(ax=ax, **kwargs)


class EnsembleSizeDisplay:
    """An ensemble size curve drawn: mean score over orderings with a band of +-1 standard
    deviation, against the number of members, in the manner of scikit-learn's displays.

    Parameters
    ----------
    curve : EnsembleSizeCurve

    Attributes
    ----------
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure
    line_ : matplotlib Line2D

    See Also
    --------
    ensemble_size_curve : computes the curve.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> from ensemblekit.model_selection import ensemble_size_curve
    >>> X, y = load_iris(return_X_y=True)
    >>> bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=5, random_state=0)
    >>> curve = ensemble_size_curve(bag.fit(X[::2], y[::2]), X[1::2], y[1::2], random_state=0)
    >>> display = curve.plot()
    >>> display.ax_.get_xlabel()
    'members in the ensemble'
    """

    def __init__(self, curve: EnsembleSizeCurve):
        self.curve = curve

    def plot(self, ax=None, *, label: str | None = None) -> EnsembleSizeDisplay:
        """Draw on ``ax`` (a new figure if None).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        label : str or None, default=None
            Legend entry, for several curves on one axes.

        Returns
        -------
        self
        """
        ax = axes_for(ax)
        curve = self.curve
        (self.line_,) = ax.plot(curve.sizes, curve.mean, marker="o", label=label)
        ax.fill_between(
            curve.sizes, curve.mean - curve.std, curve.mean + curve.std,
            color=self.line_.get_color(), alpha=0.2,
        )  # fmt: skip
        ticker = import_optional("matplotlib.ticker", "Plotting")
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set(
            xlabel="members in the ensemble",
            ylabel=f"{curve.scoring} (mean over {len(curve.scores)} orderings, ±1 sd)",
        )
        if label is not None:
            ax.legend()
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, ensemble, X, y, *, ax=None, label=None, **curve_params):
        """Compute :func:`ensemble_size_curve` and draw it.

        Parameters
        ----------
        ensemble : fitted ensemble
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        ax : matplotlib Axes, default=None
        label : str or None, default=None
        **curve_params
            Passed to :func:`ensemble_size_curve`.

        Returns
        -------
        display : EnsembleSizeDisplay
        """
        curve = ensemble_size_curve(ensemble, X, y, **curve_params)
        return cls(curve).plot(ax=ax, label=label)


def ensemble_size_curve(
    ensemble, X, y, *, scoring=None, n_orderings: int = 10, random_state=None,
    oob: bool = False,
) -> EnsembleSizeCurve:  # fmt: skip
    """Score the ensemble of the first k members, for k = 1..M, over random orderings.

    Members' predictions on X are computed once; each ordering then averages the first k
    (probabilities for classifiers, predictions for regressors), as the ensemble combines
    them, and scores that. The spread over orderings shows how much the choice of members
    matters at each size; where the mean flattens, more members stop paying. Use held-out
    rows: members fitted on X would score it too kindly.

    Parameters
    ----------
    ensemble : fitted ensemble
        A bagging, deep, CV or snapshot ensemble of ensemblekit, or a Pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    scoring : str, callable or None, default=None
        Any scorer (``"neg_log_loss"``, ``ensemblekit.metrics.scorers[...]``); None uses
        accuracy for classifiers and R² for regressors.
    n_orderings : int, default=10
        Random orderings of the members (the first is the fitted order).
    random_state : None, int or RandomState, default=None
    oob : bool, default=False
        Out of bag, for a bagging ensemble and the rows it was fitted on: each row's
        prediction at size k averages those of the first k members that did not draw it,
        and each size is scored on the rows that have one. No held-out rows are needed,
        but a ranking metric then compares predictions of different sub-ensembles.

    Returns
    -------
    curve : EnsembleSizeCurve
        ``sizes``, ``scores`` of shape (n_orderings, M), ``mean``, ``std`` and ``plot()``.

    See Also
    --------
    EnsembleSizeDisplay : the curve drawn.
    diversity_decomp : why the members' average beats the members.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> from ensemblekit.model_selection import ensemble_size_curve
    >>> X, y = load_iris(return_X_y=True)
    >>> bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=8, random_state=0)
    >>> curve = ensemble_size_curve(bag.fit(X[::2], y[::2]), X[1::2], y[1::2],
    ...                             scoring="neg_log_loss", random_state=0)
    >>> curve.scores.shape, bool(curve.mean[-1] > curve.mean[0])
    ((10, 8), True)
    """
    if isinstance(n_orderings, bool) or not isinstance(n_orderings, int) or n_orderings < 1:
        raise ValueError(f"n_orderings must be an int >= 1, got {n_orderings!r}.")
    scorer = check_scoring(ensemble, scoring=scoring)  # an unknown name fails before any work
    predictions = member_predictions(ensemble, X)
    check_consistent_length(predictions[0], y)
    n_members = len(predictions)
    left_out = _left_out(ensemble, len(y)) if oob else np.ones((n_members, len(y)), dtype=bool)
    rng = check_random_state(random_state)
    orders = [np.arange(n_members)] + [rng.permutation(n_members) for _ in range(n_orderings - 1)]
    sizes = np.arange(1, n_members + 1)
    classes = getattr(final_step(ensemble)[0], "classes_", None)
    scores = np.empty((n_orderings, n_members))
    y = np.asarray(y)
    for o, order in enumerate(orders):
        mask = left_out[order].reshape(left_out.shape + (1,) * (predictions.ndim - 2))
        running = np.cumsum(predictions[order] * mask, axis=0)
        counts = np.cumsum(left_out[order], axis=0)
        for k in sizes:
            rows = np.flatnonzero(counts[k - 1])  # rows with a prediction at this size
            if len(rows) == 0:
                scores[o, k - 1] = np.nan
                continue
            combined = running[k - 1][rows] / counts[k - 1][rows].reshape(
                (-1,) + (1,) * (predictions.ndim - 2)
            )
            fixed = (
                _FixedClassifier(classes, combined)
                if is_classifier(ensemble)
                else _FixedRegressor(combined)
            )
            scores[o, k - 1] = scorer(fixed, _safe_rows(X, rows), y[rows])
    label = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", None)
    if label is None:
        label = "accuracy" if is_classifier(ensemble) else "R²"
    if not np.isfinite(scores[:, -1]).all():
        raise ValueError(
            f"{label} of the whole ensemble is {scores[0, -1]} on these rows: the score is "
            "undefined there (one class in y for roc_auc, say), and so is the curve. Score "
            "rows that hold every class, or choose another scoring."
        )
    return EnsembleSizeCurve(sizes, scores, label)


def _left_out(ensemble, n_rows: int) -> np.ndarray:
    """(n_members, n_rows): True where a member did not draw the row."""
    bag = final_step(ensemble)[0]
    if not hasattr(bag, "estimators_samples_"):
        raise ValueError(
            f"oob=True needs a bagging ensemble (it knows each member's rows); "
            f"{type(bag).__name__} does not. Score held-out rows with oob=False."
        )
    samples = bag.estimators_samples_
    if max(int(rows.max(initial=-1)) for rows in samples) >= n_rows:
        raise ValueError("oob=True needs the rows the ensemble was fitted on, as X and y.")
    mask = np.ones((len(samples), n_rows), dtype=bool)
    for member, rows in enumerate(samples):
        mask[member, rows] = False
    return mask[bag.combined_members_]


def _safe_rows(X, rows):
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]
