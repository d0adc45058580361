"""The checks to run on a net before training it for real (CS231n's "sanity checks")."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import clone, is_classifier
from sklearn.utils.validation import check_array, column_or_1d

from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import deferred_warnings
from ..utils._optional import axes_for
from ..utils._random import check_random_state
from ._report import Check, DiagnosticReport

_TINY_LR = 1e-12  # one epoch at this rate leaves the weights as they were initialised


def _final_train_loss(net) -> float:
    return float(net.history[-1, "train_loss"])


def _train_losses(net) -> np.ndarray:
    return np.array(net.history[:, "train_loss"], dtype=float)


def _initial_loss(net, X, y) -> tuple[Check, float | None]:
    """One epoch at a learning rate too small to move the weights: its mean training loss
    is the loss at initialisation, for any criterion."""
    probe = clone(net).set_params(lr=_TINY_LR, max_epochs=1, early_stopping=False)
    value = _final_train_loss(probe.fit(X, y))
    if is_classifier(net) and net.criterion is torch.nn.CrossEntropyLoss:
        chance = float(np.log(len(np.unique(y))))
        expectation = f"about log C = {chance:.4g} (chance, {len(np.unique(y))} classes)"
    elif not is_classifier(net) and net.criterion is torch.nn.MSELoss:
        chance = float(np.mean(np.asarray(y, dtype=float) ** 2))
        expectation = f"about mean(y^2) = {chance:.4g} (outputs near 0)"
    else:
        return Check(
            "initial_loss", value, "no chance level known for this criterion", "pass",
            "compare it with the loss of a prediction that knows nothing",
        ), None  # fmt: skip
    ratio = value / chance if chance > 0 else np.inf
    if 0.5 <= ratio <= 2:
        status, advice = "pass", "the net starts from chance, as a fresh net should"
    elif 0.25 <= ratio <= 4:
        status, advice = (
            "warn",
            (
                "somewhat far from chance: the initial weights are large, or the targets are "
                "not scaled"
            ),
        )
    else:
        status, advice = (
            "fail",
            (
                "far from chance: check the initialisation, the scale of X and y, and that the "
                "criterion fits the output (logits for CrossEntropyLoss)"
            ),
        )
    return Check("initial_loss", value, expectation, status, advice), chance


def _regularization(net, X, y, epochs: int) -> tuple[Check, dict[str, np.ndarray]]:
    """A few epochs with no weight decay and with a strong one: the strong one must end
    with the higher training loss (the decay pulls the weights away from the fit)."""
    base = clone(net).set_params(max_epochs=epochs, early_stopping=False)
    expectation = "above 0 (loss with decay 1.0 minus without)"
    curves = {}
    try:
        for decay in (0.0, 1.0):
            fitted = clone(base).set_params(optimizer__weight_decay=decay).fit(X, y)
            curves[f"weight_decay={decay:g}"] = _train_losses(fitted)
    except FloatingPointError:
        return Check(
            "regularization_raises_loss", np.nan, expectation, "fail",
            f"the loss diverged at lr={net.lr!r}: lower the learning rate",
        ), curves  # fmt: skip
    value = curves["weight_decay=1"][-1] - curves["weight_decay=0"][-1]
    if value > 0:
        status, advice = "pass", "regularisation raises the loss, as it should"
    else:
        status, advice = (
            "fail",
            (
                "a strong weight decay did not raise the training loss: the optimizer may "
                "ignore weight_decay, or the net does not learn at all"
            ),
        )
    return Check("regularization_raises_loss", value, expectation, status, advice), curves


def _overfit(net, X, y, size: int, epochs: int, rng) -> tuple[Check, np.ndarray]:
    """A net that cannot reach (near) zero loss on ~20 rows will not learn the rest."""
    rows = rng.choice(len(X), min(size, len(X)), replace=False)
    small = clone(net).set_params(max_epochs=epochs, early_stopping=False, batch_size=len(rows))
    what = "accuracy 1" if is_classifier(net) else "R² >= 0.99"
    expectation = f"near 0, with {what} on {len(rows)} rows"
    try:
        small.fit(X[rows], y[rows])
    except FloatingPointError:  # the failed fit keeps no history: no curve to draw
        return Check(
            "overfit_small_subset", np.inf, expectation, "fail",
            f"the loss diverged at lr={net.lr!r}: lower the learning rate (lr_range_test "
            "suggests one)",
        ), np.array([])  # fmt: skip
    value = _final_train_loss(small)
    fit = small.score(X[rows], y[rows])  # accuracy, or R²
    goal = 1.0 if is_classifier(net) else 0.99
    if fit >= goal:
        status, advice = "pass", "the net can fit a small subset exactly, as it should"
    elif fit >= goal - 0.1:
        status, advice = "warn", "nearly fits the small subset: train it longer to be sure"
    elif _still_falling(_train_losses(small)):
        status, advice = (
            "fail",
            (
                f"cannot fit a handful of rows in {epochs} epochs, and the loss was still "
                f"falling: raise lr (now {net.lr!r}; lr_range_test suggests one) or "
                "overfit_epochs"
            ),
        )
    else:
        status, advice = (
            "fail",
            (
                "cannot fit a handful of rows: look for a bug in the module, the loss, or the "
                "data (labels that do not belong to their rows)"
            ),
        )
    return Check("overfit_small_subset", value, expectation, status, advice), _train_losses(small)


def _still_falling(losses: np.ndarray) -> bool:
    """The loss fell by more than 1% over the last tenth of the epochs: training was slow,
    not stuck."""
    return losses[-1] < 0.99 * losses[int(0.9 * (len(losses) - 1))]


def sanity_check(
    net, X, y, *, subset_size: int = 20, overfit_epochs: int = 1000,
    regularization_epochs: int = 5, random_state=None,
) -> DiagnosticReport:  # fmt: skip
    """The checks a careful practitioner runs before training a net (CS231n's notes).

    On clones of ``net`` (the net passed is never changed):

    - ``initial_loss``: the loss at initialisation is close to chance: ``log C`` for C
      classes with ``CrossEntropyLoss``, ``mean(y^2)`` for ``MSELoss`` (outputs near 0).
      It is measured as one epoch's mean loss at a learning rate too small to move the
      weights.
    - ``regularization_raises_loss``: a few epochs with a strong weight decay end at a
      higher training loss than without.
    - ``overfit_small_subset``: trained long enough on ``subset_size`` rows, the net fits
      them exactly (accuracy 1, or R² >= 0.99). If it cannot, it has a bug or the data do.

    Parameters
    ----------
    net : NeuralNetClassifier or NeuralNetRegressor
        Any module and criterion. Its optimizer must take ``weight_decay``.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
    subset_size : int, default=20
    overfit_epochs : int, default=1000
        Full-batch epochs on the subset, at the net's own learning rate.
    regularization_epochs : int, default=5
    random_state : None, int or RandomState, default=None
        Which rows form the subset.

    Returns
    -------
    report : DiagnosticReport
        ``report["initial_loss"]``, ``report["regularization_raises_loss"]`` and
        ``report["overfit_small_subset"]``, each with a value, an expectation, a status
        and advice; ``report.ok`` when none failed.

    See Also
    --------
    gradient_check : whether the module's backward pass is right.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.diagnostics import sanity_check
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> report = sanity_check(NeuralNetClassifier(random_state=0), X, y, random_state=0)
    >>> [check.status for check in report]
    ['pass', 'pass', 'pass']
    """
    if not isinstance(net, NeuralNetClassifier | NeuralNetRegressor):
        raise TypeError(
            "net must be an ensemblekit NeuralNetClassifier or NeuralNetRegressor (any "
            f"module), got {type(net).__name__}."
        )
    for name, value in (
        ("subset_size", subset_size),
        ("overfit_epochs", overfit_epochs),
        ("regularization_epochs", regularization_epochs),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    X = check_array(X, dtype=(np.float32, np.float64))
    y = column_or_1d(y) if is_classifier(net) else np.asarray(y)
    rng = check_random_state(random_state)
    # The checks judge their fits themselves: whether one diverged or did not converge is
    # in the report, not in warnings.
    with deferred_warnings():
        initial, chance = _initial_loss(net, X, y)
        regularization, decay_curves = _regularization(net, X, y, regularization_epochs)
        overfit, overfit_curve = _overfit(net, X, y, subset_size, overfit_epochs, rng)
    return SanityReport(
        f"sanity check of {type(net).__name__}", [initial, regularization, overfit],
        chance=chance, regularization_losses=decay_curves, overfit_losses=overfit_curve,
    )  # fmt: skip


class SanityReport(DiagnosticReport):
    """The report of :func:`sanity_check`: its checks by name, and the training losses
    behind them, which ``plot`` draws.

    Attributes
    ----------
    title : str
        What was checked, shown above the table.
    checks : dict of str to Check
    chance : float or None
        The loss of a net that knows nothing (None for a criterion without one known).
    regularization_losses : dict of str to ndarray
        Training loss per epoch with ``weight_decay=0`` and ``weight_decay=1`` (those that
        did not diverge).
    overfit_losses : ndarray
        Training loss per epoch on the small subset (empty if it diverged).

    See Also
    --------
    sanity_check : the function that returns it.
    LossCurveDisplay : plot the training losses.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.diagnostics import sanity_check
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> report = sanity_check(NeuralNetClassifier(random_state=0), X, y, overfit_epochs=300,
    ...                       random_state=0)
    >>> round(report.chance, 4), sorted(report.regularization_losses), report.ok
    (0.6931, ['weight_decay=0', 'weight_decay=1'], True)
    """

    def __init__(self, title, checks, *, chance, regularization_losses, overfit_losses):
        super().__init__(title, checks)
        self.chance = chance
        self.regularization_losses = regularization_losses
        self.overfit_losses = overfit_losses

    def plot(self, axes=None):
        """Draw the losses behind the checks, on two axes (needs matplotlib): on the left,
        the initial loss and the few epochs with and without weight decay; on the right,
        the loss on the small subset, on a log axis when it stays positive. Chance is a
        dotted line on both.

        Parameters
        ----------
        axes : sequence of 2 matplotlib Axes, default=None
            A new figure if None.

        Returns
        -------
        axes : sequence of 2 matplotlib Axes
        """
        left, right = axes_for(axes, ncols=2, figsize=(10, 4), layout="constrained")
        status = {check.name: check.status.upper() for check in self}
        left.plot(0, self["initial_loss"].value, "ko", label="initial loss")
        for (label, losses), color in zip(
            self.regularization_losses.items(), ("C0", "C3"), strict=False
        ):
            epochs = np.arange(1, len(losses) + 1)
            left.plot(epochs, losses, marker=".", color=color, label=label)
        left.set(
            xlabel="epoch", ylabel="training loss",
            title=f"initial loss: {status['initial_loss']}; decay raises the loss: "
                  f"{status['regularization_raises_loss']}",
        )  # fmt: skip
        epochs = np.arange(1, len(self.overfit_losses) + 1)
        right.plot(epochs, self.overfit_losses, color="C2", label="small subset")
        if len(self.overfit_losses) and np.all(self.overfit_losses > 0):
            right.set_yscale("log")
        right.set(
            xlabel="epoch",
            ylabel="training loss",
            title=f"overfit a small subset: {status['overfit_small_subset']}",
        )
        for ax in (left, right):
            if self.chance is not None:
                ax.axhline(self.chance, color="0.5", linestyle=":", label="chance")
            ax.legend(fontsize="small")
        return left, right
