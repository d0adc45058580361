"""The checks to run on a net before training it for real (CS231n's "sanity checks")."""

from __future__ import annotations

import sys
from numbers import Integral

import numpy as np
import torch
from sklearn.base import clone, is_classifier
from sklearn.utils.validation import check_array, column_or_1d

from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import DIVERGENCE_FACTOR, deferred_warnings
from ..utils._optional import axes_for
from ..utils._random import check_random_state
from ._report import Check, DiagnosticReport

_TINY_LR = 1e-12  # one epoch at this rate leaves the weights as they were initialised
_LARGE_INPUT = 5.0  # a column mean or std above this is far from the unit scale nets expect
_MOVED = 1e-2  # weights that moved less than this share of their norm did not train
_SIGNAL_ROWS, _SIGNAL_STEPS = 1500, 200  # labels_carry_signal: rows drawn, full-batch steps


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
    scale = _scale_advice(X)
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
    if status != "pass" and scale is not None:
        advice = f"{advice}; {scale}"
    return Check("initial_loss", value, expectation, status, advice), chance


def _scale_advice(X) -> str | None:
    """What to say when X's columns are far from unit scale (None when they are not)."""
    mean, std = float(np.abs(X.mean(axis=0)).max()), float(X.std(axis=0).max())
    if max(mean, std) <= _LARGE_INPUT:
        return None
    return (
        f"X's columns reach a mean of {mean:.3g} and a standard deviation of {std:.3g}: "
        "scale them (StandardScaler before the net in a Pipeline)"
    )


def _regularization(
    net, X, y, epochs: int, reference: float | None
) -> tuple[Check, dict[str, np.ndarray]]:  # fmt: skip
    """A few epochs with no weight decay and with a strong one: the strong one must end
    with the higher training loss (the decay pulls the weights away from the fit).
    ``reference`` is the loss a fit starts from (None: not known)."""
    base = clone(net).set_params(max_epochs=epochs, early_stopping=False, on_divergence="warn")
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
    peak = max(float(np.max(curve)) for curve in curves.values())
    plain = curves["weight_decay=0"]
    if reference is not None and peak > DIVERGENCE_FACTOR * reference:
        return Check(
            "regularization_raises_loss", value, expectation, "fail",
            f"the loss exploded to {peak:.4g}, over {DIVERGENCE_FACTOR:g} times its start "
            f"{reference:.4g}: lr={net.lr!r} is too large; lower lr",
        ), curves  # fmt: skip
    if abs(plain[-1] - plain[0]) < 1e-2 * abs(plain[0]):
        return Check(
            "regularization_raises_loss", value, expectation, "warn",
            f"cannot judge: the loss barely moved in {epochs} epochs (from {plain[0]:.4g} to "
            f"{plain[-1]:.4g}), so decay has nothing to pull against; lr={net.lr!r} may be "
            "too small",
        ), curves  # fmt: skip
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


def _overfit(
    net, X, y, size: int, epochs: int, rng, reference: float | None
) -> tuple[Check, np.ndarray]:  # fmt: skip
    """A net that cannot reach (near) zero loss on ~20 rows will not learn the rest. When
    it cannot, what was measured says why: the loss (exploded, rose, still falling), how
    far the weights moved, the rows themselves, the net's size."""
    rows = rng.choice(len(X), min(size, len(X)), replace=False)
    small = clone(net).set_params(
        max_epochs=epochs, early_stopping=False, batch_size=len(rows), on_divergence="warn"
    )
    if small.random_state is None:  # a seed, so that its initial weights can be rebuilt
        small.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    what = "accuracy 1" if is_classifier(net) else "R² >= 0.99"
    expectation = f"near 0, with {what} on {len(rows)} rows"
    start = clone(small).set_params(lr=_TINY_LR, max_epochs=1).fit(X[rows], y[rows])
    try:
        small.fit(X[rows], y[rows])
    except FloatingPointError:  # the failed fit keeps no history: no curve to draw
        return Check(
            "overfit_small_subset", np.inf, expectation, "fail",
            f"the loss diverged to NaN or inf: lr={net.lr!r} is too large; lower it "
            "(lr_range_test suggests one)",
        ), np.array([])  # fmt: skip
    losses = _train_losses(small)
    value, fit = float(losses[-1]), small.score(X[rows], y[rows])  # accuracy, or R²
    goal = 1.0 if is_classifier(net) else 0.99
    advice = _why_not_fitted(small, net.lr, losses, fit, goal, reference, start, X[rows], y[rows])
    status = "pass" if advice is None else "fail"
    if advice is not None and advice.startswith("the loss exploded"):
        value = float(np.max(losses))  # the number that failed it, not a loss that came back
    if advice is None:
        advice = "the net can fit a small subset exactly, as it should"
    elif advice.startswith("nearly"):
        status = "warn"
    return Check("overfit_small_subset", value, expectation, status, advice), losses


def _why_not_fitted(small, lr, losses, fit, goal, reference, start, X, y) -> str | None:
    """Why ``small`` did not fit its rows, from what was measured, in order of evidence
    (None: it did)."""
    peak = float(np.max(losses))
    if reference is not None and peak > DIVERGENCE_FACTOR * reference:
        return (
            f"the loss exploded to {peak:.4g}, over {DIVERGENCE_FACTOR:g} times its start "
            f"{reference:.4g}, even if it came back: lr={lr!r} is too large; lower it "
            "(lr_range_test suggests one)"
        )
    if fit >= goal:
        return None
    if fit >= goal - 0.1:
        return "nearly fits the small subset: train it longer to be sure"
    # A loss flat to float rounding (a module whose output does not depend on its weights)
    # neither rose nor swung: the advice below (capacity, a bug) is the one that applies.
    flat = np.ptp(losses) <= 1e-6 * max(abs(float(losses[0])), 1e-12)
    if not flat and (losses[-1] > losses[0] or _oscillates(losses)):
        return (
            f"the loss rose or swung up and down instead of falling: lr={lr!r} is too large; "
            "lower it (lr_range_test suggests one)"
        )
    if _still_falling(losses):
        return (
            f"cannot fit a handful of rows in {len(losses)} epochs, and the loss was still "
            f"falling: raise lr (now {lr!r}; lr_range_test suggests one) or overfit_epochs"
        )
    clashes = _clashing_rows(X, y)
    if clashes:
        return (
            f"{clashes} of the {len(X)} rows share their X with a row of another label, which "
            "no net can fit: look for labels that do not belong to their rows (X and y joined "
            "or shuffled apart) or for duplicated rows"
        )
    hidden = small.get_params().get("module__hidden_units")
    if isinstance(hidden, Integral):  # one width, module__depth layers of it
        hidden = (hidden,) * (small.get_params().get("module__depth") or 1)
    n_params = sum(p.numel() for p in small.module_.parameters())
    n_outputs = len(small.classes_) if is_classifier(small) else 1
    if n_params < len(X) or (hidden is not None and min(hidden, default=n_outputs) < n_outputs):
        return (
            f"the loss stopped at {losses[-1]:.4g}: the net is too small to fit {len(X)} "
            f"rows ({n_params} parameters"
            + (f", module__hidden_units={tuple(hidden)!r}" if hidden is not None else "")
            + "); raise module__hidden_units (its capacity)"
        )
    moved, frozen = _moved(start.module_, small.module_)
    if frozen > 0.5:
        return (
            f"{frozen:.0%} of the weights stayed exactly as initialised: they get no gradient. "
            "Look for dead units (ReLUs that a bias or the inputs hold at 0), a detached "
            "tensor, or another bug in the module's forward"
        )
    if moved < _MOVED:
        return (
            f"the weights barely moved ({moved:.2g} of their norm in {len(losses)} epochs) and "
            f"the loss stayed near {losses[-1]:.4g}: lr={lr!r} is too small; raise it "
            "(lr_range_test suggests one)"
        )
    return (
        "cannot fit a handful of rows though the weights moved and the rows differ: look for "
        "a bug in the module, the loss, or the data (labels that do not belong to their rows)"
    )


def _oscillates(losses: np.ndarray) -> bool:
    """The loss rose by more than 10% in over a quarter of the epochs: steps overshoot."""
    steps = np.diff(losses)
    return len(steps) >= 4 and np.mean(steps > 0.1 * np.abs(losses[:-1])) > 0.25


def _moved(before: torch.nn.Module, after: torch.nn.Module) -> tuple[float, float]:
    """How far the weights moved, as a share of their initial norm, and the share of them
    that did not move at all."""
    old = torch.cat([p.detach().flatten().double() for p in before.parameters()])
    new = torch.cat([p.detach().flatten().double() for p in after.parameters()])
    norm = max(float(torch.linalg.vector_norm(old)), 1e-12)
    return float(torch.linalg.vector_norm(new - old)) / norm, float((new == old).double().mean())


def _clashing_rows(X, y) -> int:
    """How many rows share their X with a row of another label."""
    _, group = np.unique(X, axis=0, return_inverse=True)
    labels = np.asarray(y).reshape(len(y), -1)
    clashes = 0
    for g in np.unique(group):
        members = labels[group.ravel() == g]
        if len(members) > 1 and len(np.unique(members, axis=0)) > 1:
            clashes += len(members)
    return clashes


def _labels_signal(net, X, y, rng) -> Check:
    """The same net trained on the true labels and on shuffled ones: on held-out rows, the
    true labels must do clearly better, or they carry no signal the net can find (X and y
    shuffled apart, a join on the wrong key). A net memorises shuffled labels on a small
    subset as readily as true ones, so overfitting alone cannot tell."""
    metric = "accuracy" if is_classifier(net) else "R²"
    n = min(len(X), _SIGNAL_ROWS)
    expectation = (
        f"held-out {metric} above that of the same net trained on shuffled labels, by 3 "
        "standard errors"
    )
    if n < 30:
        return Check(
            "labels_carry_signal", np.nan, expectation, "warn",
            f"cannot judge: {len(X)} rows are too few to hold some out (30 are needed)",
        )  # fmt: skip
    rows = rng.choice(len(X), n, replace=False)
    test, train = rows[: n // 3], rows[n // 3 :]
    se = float(np.sqrt(0.5 / len(test)))
    probe = clone(net).set_params(
        max_epochs=_SIGNAL_STEPS, batch_size=-1, early_stopping=False, on_divergence="warn"
    )
    if probe.random_state is None:
        probe.set_params(random_state=int(rng.randint(np.iinfo(np.int32).max)))
    shuffled = y[train][rng.permutation(len(train))]
    try:
        true = clone(probe).fit(X[train], y[train])
        fake = clone(probe).fit(X[train], shuffled)
    except FloatingPointError:
        return Check(
            "labels_carry_signal", np.nan, expectation, "warn",
            f"cannot judge: the fit diverged at lr={net.lr!r}; lower lr first",
        )  # fmt: skip
    held_out, shuffled_out = true.score(X[test], y[test]), fake.score(X[test], y[test])
    learned = true.score(X[train], y[train])
    value = held_out - shuffled_out
    scores = f"held-out {metric} {held_out:.3f}, against {shuffled_out:.3f} with shuffled labels"
    if value > 3 * se:
        return Check(
            "labels_carry_signal", value, expectation, "pass",
            f"{scores}: the labels carry signal the net finds",
        )  # fmt: skip
    if value < se and learned - held_out > 3 * se:
        return Check(
            "labels_carry_signal", value, expectation, "fail",
            f"{scores}, though it learned its training rows ({metric} {learned:.3f}): the "
            "labels carry no signal the net can find. Check how X and y were joined, sorted "
            "or shuffled: each row must keep its own label",
        )  # fmt: skip
    if value < se:
        return Check(
            "labels_carry_signal", value, expectation, "warn",
            f"cannot judge: {scores}, and the net learned little of its training rows "
            f"({metric} {learned:.3f}) in {_SIGNAL_STEPS} full-batch steps; raise lr "
            f"(now {net.lr!r})",
        )  # fmt: skip
    return Check(
        "labels_carry_signal", value, expectation, "warn",
        f"{scores}: a weak signal, within 3 standard errors ({3 * se:.3f}) of none",
    )  # fmt: skip


def _still_falling(losses: np.ndarray) -> bool:
    """The loss fell by more than 1% over the last tenth of the epochs: training was slow,
    not stuck."""
    return losses[-1] < 0.99 * losses[int(0.9 * (len(losses) - 1))]


def sanity_check(
    net, X, y, *, subset_size: int = 20, overfit_epochs: int = 1000,
    regularization_epochs: int = 5, random_state=None, verbose: int = 1,
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
      them exactly (accuracy 1, or R² >= 0.99). When it cannot, the advice follows what
      was measured: a loss that exploded, rose or swung (``lr`` too large), one still
      falling (``lr`` or ``overfit_epochs`` too small), weights that barely moved (``lr``
      too small), identical rows with different labels, a net too small
      (``module__hidden_units``), or else a bug.
    - ``labels_carry_signal``: the net trained briefly (200 full-batch steps) on two
      thirds of up to 1500 rows predicts the held-out third better than the same net
      trained on shuffled labels, by 3 standard errors. A net memorises shuffled labels on
      a small subset as readily as true ones, so ``overfit_small_subset`` cannot catch
      labels that were shuffled apart from their rows; this check does.

    The learning rate is judged against where a fit starts: chance, or the initial loss
    when it is higher; a loss over 10 times that has exploded.

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
    verbose : int, default=1
        With 1, a line on stderr as each check starts (the four take seconds to a minute
        in all); 0 says nothing.

    Returns
    -------
    report : DiagnosticReport
        ``report["initial_loss"]``, ``report["regularization_raises_loss"]``,
        ``report["overfit_small_subset"]`` and ``report["labels_carry_signal"]``, each
        with a value, an expectation, a status and advice; ``report.ok`` when none
        failed.

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
    ['pass', 'pass', 'pass', 'pass']
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
    say = _Steps(verbose, 4)
    with deferred_warnings():
        say("initial_loss: one epoch at a learning rate that does not move the weights")
        initial, chance = _initial_loss(net, X, y)
        # Where a fit starts: chance, or the initial loss when it is above chance.
        reference = initial.value if chance is None else max(chance, initial.value)
        say(f"regularization_raises_loss: two fits of {regularization_epochs} epochs")
        regularization, decay_curves = _regularization(net, X, y, regularization_epochs, reference)
        say(f"overfit_small_subset: {overfit_epochs} epochs on {subset_size} rows")
        overfit, overfit_curve = _overfit(net, X, y, subset_size, overfit_epochs, rng, reference)
        say("labels_carry_signal: 200 steps on true labels, then on shuffled ones")
        signal = _labels_signal(net, X, y, rng)
    return SanityReport(
        f"sanity check of {type(net).__name__}", [initial, regularization, overfit, signal],
        chance=chance, regularization_losses=decay_curves, overfit_losses=overfit_curve,
    )  # fmt: skip


class _Steps:
    """Says on stderr which of ``total`` steps starts (nothing when ``verbose`` is 0)."""

    def __init__(self, verbose: int, total: int):
        self.verbose, self.total, self.done = verbose, total, 0

    def __call__(self, what: str) -> None:
        self.done += 1
        if self.verbose:
            print(f"sanity_check {self.done}/{self.total}: {what}", file=sys.stderr, flush=True)


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
