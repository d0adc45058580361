"""How sure an ensemble is, row by row: total, aleatoric and epistemic uncertainty."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import check_is_fitted

from ..utils._pipeline import final_step
from ..utils._results import ArrayFieldsEqual


@dataclass(frozen=True, eq=False)
class PredictiveUncertainty(ArrayFieldsEqual):
    """Per-row uncertainty of an ensemble's prediction, split by its source.

    Classifiers (entropies in nats; Depeweg et al. 2018): ``total`` is the entropy of the
    mean prediction ``H[mean_m p_m]``; ``aleatoric`` the members' mean entropy
    ``mean_m H[p_m]`` (the noise every member sees); ``epistemic`` their difference, the
    mutual information between the prediction and the member (where the members disagree),
    never negative.

    Regressors (variances, in squared units of y): ``epistemic`` is the variance of the
    members' predicted means around their mean. ``aleatoric`` is the members' mean
    predicted variance, for members trained with ``GaussianNLLLoss``; ``total`` is then the
    mixture's variance (Lakshminarayanan et al. 2017). For other members ``aleatoric`` is
    None and ``total`` is the epistemic part alone.

    Attributes
    ----------
    total, epistemic : ndarray of shape (n_samples,)
    aleatoric : ndarray of shape (n_samples,) or None
    prediction : ndarray
        The ensemble's prediction the uncertainty belongs to: mean probabilities of shape
        (n_samples, n_classes), or the mean prediction.
    n_members : int

    See Also
    --------
    predictive_uncertainty : the function that returns it.
    DiversityResult : the members' disagreement as part of the loss.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> from ensemblekit.model_selection import predictive_uncertainty
    >>> X, y = load_diabetes(return_X_y=True)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=5,
    ...                        random_state=0).fit(X, y)
    >>> u = predictive_uncertainty(bag, X[:3])  # trees predict no spread of their own
    >>> u.aleatoric is None, u.total.shape, bool((u.total == u.epistemic).all())
    (True, (3,), True)
    """

    total: np.ndarray
    aleatoric: np.ndarray | None
    epistemic: np.ndarray
    prediction: np.ndarray
    n_members: int

    def __repr__(self) -> str:
        parts = [f"n_rows={len(self.total)}", f"n_members={self.n_members}"]
        for name in ("total", "aleatoric", "epistemic"):
            values = getattr(self, name)
            if values is not None:
                parts.append(f"mean {name}={values.mean():.4g}")
        return f"PredictiveUncertainty({', '.join(parts)})"


def entropy(proba: np.ndarray) -> np.ndarray:
    """``-sum_k p_k log p_k`` over the last axis, with ``0 log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(proba > 0, proba * np.log(proba), 0.0)
    return -terms.sum(axis=-1)


def member_predictions(ensemble, X) -> np.ndarray:
    """The combined members' predictions on X, stacked: (n_members, n_samples, ...).

    Classifiers give probabilities in the columns of ``classes_``. A Pipeline ending in an
    ensemble transforms X through its other steps first.
    """
    ensemble, X = final_step(ensemble, X)
    check_is_fitted(ensemble)
    if getattr(ensemble, "member_combination", None) == "mean":
        return ensemble.predict_members(X)
    raise TypeError(
        f"{type(ensemble).__name__} is not an ensemble whose members vote with equal "
        "weight (member_combination='mean'); pass a fitted bagging, deep, CV or snapshot "
        "ensemble of ensemblekit (or a Pipeline that ends in one)."
    )


def predictive_uncertainty(ensemble, X) -> PredictiveUncertainty:
    """Split each row's predictive uncertainty into what the data and the model leave open.

    For a classifier, with ``p_m`` member m's probabilities on a row:
    ``total = H[mean_m p_m]``, ``aleatoric = mean_m H[p_m]`` and ``epistemic = total -
    aleatoric``, the mutual information (Depeweg et al. 2018). A row where confident members
    disagree has a high epistemic part; one where every member spreads its probability has
    a high aleatoric part. For a regressor, ``epistemic`` is the variance of the members'
    predictions; members trained with ``GaussianNLLLoss`` add their mean predicted
    variance as ``aleatoric``, and ``total`` is the variance
    ``DeepEnsembleRegressor.predict(X, return_std=True)`` reports.

    Parameters
    ----------
    ensemble : fitted ensemble
        A bagging, deep, CV or snapshot ensemble of ensemblekit, classifier or regressor,
        or a Pipeline that ends in one.
    X : array-like of shape (n_samples, n_features)

    Returns
    -------
    uncertainty : PredictiveUncertainty
        Arrays ``total``, ``aleatoric``, ``epistemic`` per row, and the ``prediction``.

    See Also
    --------
    diversity_decomp : how much the members' disagreement lowers the ensemble's loss.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> from ensemblekit.model_selection import predictive_uncertainty
    >>> X, y = load_iris(return_X_y=True)
    >>> bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=10, random_state=0)
    >>> u = predictive_uncertainty(bag.fit(X, y), X)
    >>> bool((u.epistemic >= 0).all()), bool(abs(u.total - u.aleatoric - u.epistemic).max() < 1e-12)
    (True, True)
    """
    members = member_predictions(ensemble, X)
    mean = members.mean(axis=0)
    if is_classifier(ensemble):
        total = entropy(mean)
        aleatoric = entropy(members).mean(axis=0)
        # Jensen: H is concave, so total >= aleatoric; clip float rounding below zero.
        epistemic = np.maximum(total - aleatoric, 0.0)
        return PredictiveUncertainty(total, aleatoric, epistemic, mean, len(members))
    distributions = _distributions(ensemble, X)
    if distributions is not None:  # members predict a spread: the mixture's parts
        means, variances = distributions
        epistemic, aleatoric = _per_row(means.var(axis=0)), _per_row(variances.mean(axis=0))
        return PredictiveUncertainty(
            epistemic + aleatoric, aleatoric, epistemic, means.mean(axis=0), len(means)
        )
    epistemic = _per_row(members.var(axis=0))
    return PredictiveUncertainty(epistemic, None, epistemic, mean, len(members))


def _per_row(values: np.ndarray) -> np.ndarray:
    """Mean over targets, for several of them."""
    return values.reshape(values.shape[0], -1).mean(axis=1)


def _distributions(ensemble, X):
    ensemble, X = final_step(ensemble, X)
    means, stds = ensemble.predict_members(X, return_std=True)
    return None if stds is None else (means, stds**2)
