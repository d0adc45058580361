"""How a net's fit went: a loss that exploded (diverged) or one still falling when
``max_epochs`` ran out (not converged), judged from its history when training ends."""

from __future__ import annotations

import numpy as np

from ..utils._fit_warnings import DIVERGENCE_FACTOR


class DivergenceWarning(RuntimeWarning):
    """A net's training loss exploded but stayed finite.

    Given when an epoch's training loss rises above 10 times the chance loss (``log C``
    for a classifier with ``CrossEntropyLoss``, ``mean(y**2)`` for a regressor with
    ``MSELoss``): far worse than a net that knows nothing. A fit that starts above chance
    (inputs far from unit scale, or a warm start from poor weights) is judged against the
    loss it started from instead. The message names the epoch, the loss and ``lr``. A
    net with ``on_divergence="raise"`` raises ``FloatingPointError`` instead, as it does
    when the loss becomes NaN.

    See Also
    --------
    NeuralNetClassifier : the ``on_divergence`` parameter.
    ensemblekit.diagnostics.sanity_check : checks a net before training it for real.

    Examples
    --------
    >>> import warnings
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.nets import DivergenceWarning, NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> net = NeuralNetClassifier(lr=10, max_epochs=5, random_state=0)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = net.fit(X, y)
    >>> [w.category.__name__ for w in caught]
    ['DivergenceWarning']
    """


def _epoch_losses(history, prefix: str, start: int = 0) -> np.ndarray:
    """Each epoch's mean ``{prefix}_loss`` from ``start`` on, weighted by batch sizes, read
    from the batches (the epoch-level keys need skorch's default callbacks)."""
    losses = []
    for epoch in history[start:]:
        batches = [b for b in epoch["batches"] if f"{prefix}_loss" in b]
        if batches:
            sizes = np.array([b.get(f"{prefix}_batch_size", 1) for b in batches], dtype=float)
            values = np.array([b[f"{prefix}_loss"] for b in batches], dtype=float)
            losses.append(float(np.sum(values * sizes) / np.sum(sizes)))
    return np.array(losses)


def still_improving(losses: np.ndarray, tol: float, n_iter_no_change: int) -> bool:
    """MLPClassifier's rule: the loss improved on its best by more than ``tol`` (relative
    to the best) in one of the last ``n_iter_no_change`` epochs."""
    best, misses = np.inf, 0
    for loss in losses:
        if loss < best - tol * abs(best) or not np.isfinite(best):
            best, misses = loss, 0
        else:
            misses += 1
    return misses < n_iter_no_change


def divergence(net, start: int, chance: float | None) -> str | None:
    """What to say of the first epoch from ``start`` on whose training loss is above
    ``DIVERGENCE_FACTOR`` times where the fit started (None: no such epoch, or no chance
    loss known for the net's criterion)."""
    if chance is None:
        return None
    history = net.history
    losses = _epoch_losses(history, "train", start)
    # A net may start above chance without diverging: one whose inputs are far from unit
    # scale (sanity_check's initial_loss judges that), or a warm start from weights already
    # poor. Its starting loss is then the reference: the first batch's (taken before the
    # first step) or, warm, the last epoch's of the fit it continues.
    if start > 0:
        started = _epoch_losses(history, "train", start - 1)[:1]
    else:
        batches = history[0]["batches"] if len(history) else []
        started = [b["train_loss"] for b in batches[:1] if "train_loss" in b]
    started = float(started[0]) if len(started) else chance
    reference, what = (chance, "the chance loss")
    if started > chance:
        reference, what = (started, "the loss it started from")
    above = np.flatnonzero(losses > DIVERGENCE_FACTOR * reference)
    if not len(above):
        return None
    epoch, loss = start + above[0] + 1, losses[above[0]]
    return (
        f"The training loss of {type(net).__name__} reached {loss:.4g} in epoch {epoch}, "
        f"over {DIVERGENCE_FACTOR:g} times {what} {reference:.4g}: the fit is diverging. "
        f"Lower lr (now {net.lr:.4g}) or scale the inputs."
    )


def non_convergence(net, start: int) -> str | None:
    """What to say of a fit from epoch ``start`` that ran all ``max_epochs`` with its
    monitored loss still improving (None: it stopped early, or converged)."""
    if len(net.history) - start != net.max_epochs:
        return None
    monitored = "valid" if net.early_stopping else "train"
    named = "validation" if net.early_stopping else "training"
    losses = _epoch_losses(net.history, monitored)
    if not len(losses) or not still_improving(losses, net.tol, net.n_iter_no_change):
        return None
    return (
        f"{type(net).__name__} ran all max_epochs={net.max_epochs} and its {named} loss was "
        f"still improving (by more than tol={net.tol!r} of its best in the last "
        f"n_iter_no_change={net.n_iter_no_change} epochs): it has not converged. Raise "
        + (
            "max_epochs, lr or tol (a validation loss that creeps down by hundredths of a "
            "percent an epoch settles with tol=0.01 or some weight decay)."
            if net.early_stopping
            else "max_epochs or lr, or set early_stopping=True."
        )
    )
