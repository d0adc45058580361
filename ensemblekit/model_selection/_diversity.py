"""Why an ensemble beats its members: ensemble loss = average member loss - diversity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.base import is_classifier
from sklearn.utils.validation import column_or_1d

from ..engine import MemberPlan, fit_members
from ..utils._optional import axes_for
from ..utils._proba import clip_proba
from ..utils._random import check_random_state, draw_seeds
from ..utils._results import ArrayFieldsEqual
from ._bias_variance import _draw_training_sets, decompose_log_loss, decompose_squared
from ._uncertainty import member_predictions

_LOSSES = ("mse", "log_loss", "0-1")
_COMBINERS = {
    "mse": "arithmetic mean",
    "log_loss": "normalised geometric mean",
    "0-1": "majority vote",
}


@dataclass(frozen=True, eq=False)
class DiversityResult(ArrayFieldsEqual):
    """An ensemble's test loss split as ``ensemble_loss = average_member_loss - diversity``.

    Exactly, row by row and on average (Wood et al. 2023). The ensemble here is the
    combiner the decomposition is exact for (``combiner``): the arithmetic mean for squared
    loss, the normalised geometric mean of the probabilities for log loss, and the majority
    vote for 0-1 loss. Its loss can differ a little from that of the ensemble's own
    ``predict_proba`` (the arithmetic mean of probabilities).

    Attributes
    ----------
    loss : {"mse", "log_loss", "0-1"}
    combiner : str
    ensemble_loss, average_member_loss, diversity : float
    member_losses : ndarray of shape (n_members,)
        Each member's loss on the test set (their mean is ``average_member_loss``).
    diversity_per_point : ndarray of shape (n_samples,)
    good_diversity, bad_diversity : float or None
        0-1 loss only (``diversity = good_diversity - bad_diversity``): on rows the
        majority gets right, the share of members that disagree with it (they cost the
        members, not the ensemble); on rows it gets wrong, the share of members that are
        right (the ensemble throws them away). Both averaged over all rows.

    See Also
    --------
    diversity_decomp : the function that returns it.
    BiasVarianceDiversityResult : the same split in expectation over training sets.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> from ensemblekit.model_selection import diversity_decomp
    >>> X, y = load_diabetes(return_X_y=True)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=5,
    ...                        random_state=0).fit(X[:300], y[:300])
    >>> r = diversity_decomp(bag, X[300:], y[300:])
    >>> r.combiner, r.member_losses.shape, bool(r.ensemble_loss < r.member_losses.min())
    ('arithmetic mean', (5,), True)
    """

    loss: str
    combiner: str
    ensemble_loss: float
    average_member_loss: float
    diversity: float
    member_losses: np.ndarray
    diversity_per_point: np.ndarray
    good_diversity: float | None = None
    bad_diversity: float | None = None

    def __repr__(self) -> str:
        parts = [
            f"loss={self.loss!r}",
            f"ensemble_loss={self.ensemble_loss:.4f}",
            f"average_member_loss={self.average_member_loss:.4f}",
            f"diversity={self.diversity:.4f}",
        ]
        if self.good_diversity is not None:
            parts += [f"good={self.good_diversity:.4f}", f"bad={self.bad_diversity:.4f}"]
        parts.append(f"n_members={len(self.member_losses)}")
        return f"DiversityResult({', '.join(parts)})"

    def plot(self, ax=None):
        """Each member's loss, their average, and the ensemble's loss below it by the
        diversity (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, default=None

        Returns
        -------
        ax : matplotlib Axes
        """
        ax = axes_for(ax, figsize=(8.4, 4), constrained_layout=True)
        order = np.argsort(self.member_losses)
        positions = np.arange(len(order))
        ax.plot(positions, self.member_losses[order], "o", color="0.45", label="each member")
        ax.axhline(self.average_member_loss, color="C0", label="average member")
        ax.axhline(self.ensemble_loss, color="C3", label=f"ensemble ({self.combiner})")
        middle = positions[-1] + 0.9
        ax.annotate(
            "", xy=(middle, self.ensemble_loss), xytext=(middle, self.average_member_loss),
            arrowprops={"arrowstyle": "->", "color": "black"},
        )  # fmt: skip
        ax.annotate(
            f" diversity\n {self.diversity:.4f}",
            (middle, (self.ensemble_loss + self.average_member_loss) / 2), va="center",
        )  # fmt: skip
        ax.set_xlim(-0.6, middle + 1.4)
        ax.set_xticks(positions, [str(i) for i in order])
        words = {"mse": "squared error", "log_loss": "log loss", "0-1": "0-1 loss (error rate)"}
        ax.set(xlabel="member (sorted by its loss)", ylabel=words[self.loss])
        # Beside the axes: inside, the legend would cover members' points wherever it went.
        ax.legend(
            title="ensemble loss =\naverage member loss - diversity", loc="center left",
            bbox_to_anchor=(1.02, 0.5), frameon=False, alignment="left",
        )  # fmt: skip
        return ax


def decompose_diversity(predictions: np.ndarray, y: np.ndarray, loss: str) -> dict:
    """The per-row terms for members' ``predictions`` (n_members first) and targets ``y``
    (column indices for classifiers)."""
    rows = np.arange(len(y))
    if loss == "mse":
        centre = predictions.mean(axis=0)
        member = ((predictions - y) ** 2).reshape(len(predictions), len(y), -1).mean(axis=2)
        diversity = ((predictions - centre) ** 2).reshape((*member.shape, -1)).mean(axis=2)
        ensemble = ((centre - y) ** 2).reshape(len(y), -1).mean(axis=1)
        return {"ensemble": ensemble, "member": member, "diversity": diversity.mean(axis=0)}
    if loss == "log_loss":
        log_p = np.log(clip_proba(predictions))
        log_p -= np.log(np.exp(log_p).sum(axis=2, keepdims=True))  # renormalise after clipping
        member = -log_p[:, rows, y]
        mean_log = log_p.mean(axis=0)
        log_z = np.log(np.exp(mean_log).sum(axis=1))
        ensemble = -(mean_log[rows, y] - log_z)  # log loss of the normalised geometric mean
        # -log Z: the members' mean KL divergence from that centroid.
        return {"ensemble": ensemble, "member": member, "diversity": -log_z}
    labels = predictions  # member labels, as column indices
    counts = np.stack([(labels == k).sum(axis=0) for k in range(int(labels.max(initial=0)) + 1)])
    vote = counts.argmax(axis=0)  # ties go to the smallest label
    member = (labels != y).astype(float)
    ensemble_right = vote == y
    good = np.where(ensemble_right, (labels != vote).mean(axis=0), 0.0)
    bad = np.where(ensemble_right, 0.0, (labels == y).mean(axis=0))
    ensemble = (~ensemble_right).astype(float)
    return {
        "ensemble": ensemble,
        "member": member,
        "diversity": good - bad,
        "good": good,
        "bad": bad,
    }


def diversity_decomp(ensemble, X, y, *, loss: str | None = None) -> DiversityResult:
    """Split a fitted ensemble's test loss into its members' average loss minus diversity.

    After Wood et al. (2023), "A unified theory of diversity in ensemble learning", and
    Krogh & Vedelsby (1995). For every test row, exactly:

    - squared loss, arithmetic mean ``f = mean_i f_i``: ``(y - f)^2 = mean_i (y - f_i)^2 -
      mean_i (f_i - f)^2``; the diversity (ambiguity) does not depend on y.
    - log loss, normalised geometric mean ``q ~ exp(mean_i log q_i)``: ``CE(y, q) = mean_i
      CE(y, q_i) - mean_i KL(q || q_i)``, and the diversity ``-log sum_k exp(mean_i log
      q_ik)`` does not depend on y.
    - 0-1 loss, majority vote: the diversity is "good" on rows the vote gets right (members
      that disagree with it) minus "bad" on rows it gets wrong (members that were right).

    Parameters
    ----------
    ensemble : fitted ensemble
        A bagging, deep, CV or snapshot ensemble of ensemblekit, or a Pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
        Test rows (the decomposition holds on any rows; held-out ones tell the truth).
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    loss : {"mse", "log_loss", "0-1"} or None, default=None
        None: "log_loss" for classifiers, "mse" for regressors.

    Returns
    -------
    result : DiversityResult
        ``ensemble_loss``, ``average_member_loss``, ``diversity`` (floats), the members'
        losses, the diversity per row, and ``plot()``.

    See Also
    --------
    predictive_uncertainty : the members' disagreement row by row, as entropies.
    bias_variance_decomp : the loss over training sets, split into bias and variance.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.ensemble import BaggingClassifier
    >>> from ensemblekit.model_selection import diversity_decomp
    >>> X, y = load_iris(return_X_y=True)
    >>> bag = BaggingClassifier(DecisionTreeClassifier(), n_estimators=10, random_state=0)
    >>> r = diversity_decomp(bag.fit(X[::2], y[::2]), X[1::2], y[1::2], loss="0-1")
    >>> abs(r.ensemble_loss - (r.average_member_loss - r.diversity)) < 1e-12
    True
    """
    classifier = is_classifier(ensemble)
    if loss is None:
        loss = "log_loss" if classifier else "mse"
    if loss not in _LOSSES:
        raise ValueError(f"loss must be 'mse', 'log_loss' or '0-1', got {loss!r}.")
    if classifier == (loss == "mse"):
        fix = "loss='mse'" if not classifier else "loss='log_loss' or '0-1'"
        kind = "classifier" if classifier else "regressor"
        raise ValueError(f"loss={loss!r} does not suit a {kind}; use {fix}.")
    predictions = member_predictions(ensemble, X)
    if classifier:
        classes = ensemble.classes_
        y = column_or_1d(y)
        unseen = np.setdiff1d(y, classes)
        if len(unseen):
            raise ValueError(f"y has labels {unseen.tolist()[:10]} the ensemble never saw.")
        target = np.searchsorted(classes, y)
        if loss == "0-1":
            predictions = predictions.argmax(axis=2)
    else:
        target = np.asarray(y, dtype=float).reshape(predictions.shape[1:])
    if len(target) != predictions.shape[1]:
        raise ValueError(f"X has {predictions.shape[1]} rows but y has {len(target)}.")
    parts = decompose_diversity(predictions, target, loss)
    member_losses = parts["member"].mean(axis=1)
    average = float(member_losses.mean())
    diversity = float(parts["diversity"].mean())
    extra = {}
    if loss == "0-1":
        extra = {
            "good_diversity": float(parts["good"].mean()),
            "bad_diversity": float(parts["bad"].mean()),
        }
    return DiversityResult(
        loss=loss,
        combiner=_COMBINERS[loss],
        ensemble_loss=float(parts["ensemble"].mean()),
        average_member_loss=average,
        diversity=diversity,
        member_losses=member_losses,
        diversity_per_point=parts["diversity"],
        **extra,
    )


@dataclass(frozen=True, eq=False)
class BiasVarianceDiversityResult(ArrayFieldsEqual):
    """An ensemble's expected test loss over training sets, split as Wood et al. (2023) do:
    ``expected_loss = average_bias + average_variance - diversity``, exactly.

    Attributes
    ----------
    loss : {"mse", "log_loss"}
    expected_loss : float
        The ensemble's loss (arithmetic mean for "mse", normalised geometric mean for
        "log_loss"), averaged over rounds and test rows.
    average_bias, average_variance : float
        Each member position's bias and variance over the rounds (as
        :func:`bias_variance_decomp` defines them; the bias includes the noise of y),
        averaged over the members.
    diversity : float
        The members' diversity (as :func:`diversity_decomp`), averaged over the rounds.
    n_rounds, n_members : int

    See Also
    --------
    bias_variance_diversity_decomp : the function that returns it.
    BiasVarianceResult : the decomposition of a single model.
    DiversityResult : the split of one fitted ensemble's loss.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> from ensemblekit.model_selection import bias_variance_diversity_decomp
    >>> X, y = load_diabetes(return_X_y=True)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(max_depth=3), n_estimators=4,
    ...                        random_state=0)
    >>> r = bias_variance_diversity_decomp(bag, X[:300], y[:300] / 100, X[300:], y[300:] / 100,
    ...                                    n_rounds=3, random_state=0)
    >>> r.loss, r.n_rounds, r.n_members, bool(r.diversity > 0)
    ('mse', 3, 4, True)
    """

    loss: str
    expected_loss: float
    average_bias: float
    average_variance: float
    diversity: float
    n_rounds: int
    n_members: int

    def __repr__(self) -> str:
        return (
            f"BiasVarianceDiversityResult(loss={self.loss!r}, "
            f"expected_loss={self.expected_loss:.4f}, average_bias={self.average_bias:.4f}, "
            f"average_variance={self.average_variance:.4f}, diversity={self.diversity:.4f}, "
            f"n_rounds={self.n_rounds}, n_members={self.n_members})"
        )


def bias_variance_diversity_decomp(
    ensemble, X_train, y_train, X_test, y_test, *, loss: str | None = None,
    n_rounds: int = 20, sampling: str = "bootstrap", random_state=None, n_jobs=None,
) -> BiasVarianceDiversityResult:  # fmt: skip
    """Bias, variance and diversity of an ensemble over training sets (Wood et al. 2023).

    Each of ``n_rounds`` rounds fits a clone of the whole ensemble on its own training set
    (drawn as :func:`bias_variance_decomp` draws them, through the member engine) and
    predicts ``X_test``. With ``f_ri`` member i of round r:

    ``E_r[ensemble loss] = mean_i bias_i + mean_i variance_i - E_r[diversity_r]``

    where member position i's bias and variance are taken over the rounds (squared loss:
    squared bias and variance of ``f_ri``; log loss: Heskes's bias and variance around its
    normalised geometric mean), and ``diversity_r`` is :func:`diversity_decomp`'s for
    round r. It holds exactly, for squared loss with the arithmetic mean and for log loss
    with the normalised geometric mean. A ``random_state`` set on the ensemble is kept in
    every round, so rounds differ by their data alone.

    Parameters
    ----------
    ensemble : estimator
        An unfitted bagging, deep, CV or snapshot ensemble of ensemblekit.
    X_train, y_train : array-like
        The data the rounds draw from.
    X_test, y_test : array-like
        The fixed test set.
    loss : {"mse", "log_loss"} or None, default=None
        None: "log_loss" for classifiers, "mse" for regressors.
    n_rounds : int, default=20
    sampling : {"bootstrap", "subsample"}, default="bootstrap"
    random_state : None, int or RandomState, default=None
    n_jobs : int or None, default=None
        Rounds fitted in parallel through joblib.

    Returns
    -------
    result : BiasVarianceDiversityResult

    See Also
    --------
    bias_variance_decomp : the same over training sets for one model.
    diversity_decomp : one fitted ensemble on one test set.

    Examples
    --------
    >>> from sklearn.datasets import make_friedman1
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> from ensemblekit.ensemble import BaggingRegressor
    >>> from ensemblekit.model_selection import bias_variance_diversity_decomp
    >>> X, y = make_friedman1(n_samples=300, noise=1.0, random_state=0)
    >>> bag = BaggingRegressor(DecisionTreeRegressor(), n_estimators=5, random_state=0)
    >>> r = bias_variance_diversity_decomp(bag, X[:200], y[:200], X[200:], y[200:],
    ...                                    n_rounds=5, random_state=0)
    >>> abs(r.expected_loss - (r.average_bias + r.average_variance - r.diversity)) < 1e-9
    True
    """
    classifier = is_classifier(ensemble)
    loss = ("log_loss" if classifier else "mse") if loss is None else loss
    if loss not in ("mse", "log_loss"):
        raise ValueError(
            f"loss must be 'mse' or 'log_loss', got {loss!r}: the decomposition over "
            "training sets is exact for these two (0-1 loss has no such form)."
        )
    if classifier == (loss == "mse"):
        raise ValueError(
            f"loss={loss!r} does not suit a {'classifier' if classifier else 'regressor'}."
        )
    if int(n_rounds) < 2:
        raise ValueError(f"n_rounds must be at least 2, got {n_rounds!r}.")
    X_train, X_test = np.asarray(X_train), np.asarray(X_test)
    y_train, y_test = np.asarray(y_train), np.asarray(y_test)
    rng = check_random_state(random_state)
    X_all, y_all, rows = _draw_training_sets(sampling, X_train, y_train, int(n_rounds), None, rng)
    plans = [
        MemberPlan(int(s), rows=r) for s, r in zip(draw_seeds(rng, len(rows)), rows, strict=True)
    ]
    fitted = fit_members(ensemble, X_all, y_all, plans, n_jobs=n_jobs, reseed="unset")
    if classifier:
        classes = np.unique(y_train)
        if any(len(f.classes_) != len(classes) for f in fitted):
            raise ValueError(
                "A round's training set lacked a class, so its members cannot predict it; "
                "use more training rows, or fewer rare classes."
            )
        target = np.searchsorted(classes, column_or_1d(y_test))
    else:
        target = y_test.astype(float)
    # (n_rounds, n_members, n_test, ...): every round's members on the test rows.
    predictions = np.stack([member_predictions(f, X_test) for f in fitted])
    n_members = predictions.shape[1]
    if loss == "mse":
        target = target.reshape(predictions.shape[2:])
        per_member = [decompose_squared(predictions[:, i], target) for i in range(n_members)]
        bias = np.mean([p["bias"].reshape(len(target), -1).mean() for p in per_member])
        variance = np.mean([p["variance"].reshape(len(target), -1).mean() for p in per_member])
    else:
        per_member = [decompose_log_loss(predictions[:, i], target) for i in range(n_members)]
        bias = np.mean([p["bias"].mean() for p in per_member])
        variance = np.mean([p["variance"].mean() for p in per_member])
    rounds = [decompose_diversity(p, target, loss) for p in predictions]
    return BiasVarianceDiversityResult(
        loss=loss,
        expected_loss=float(np.mean([r["ensemble"].mean() for r in rounds])),
        average_bias=float(bias),
        average_variance=float(variance),
        diversity=float(np.mean([r["diversity"].mean() for r in rounds])),
        n_rounds=int(n_rounds),
        n_members=int(n_members),
    )
