"""Balanced mini-batches, resampling plans for bagging, and prior correction."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from ..utils._random import check_random_state


class BalancedBatchSampler:
    """Index batches in which the classes are balanced (or in a given ratio).

    Implements torch's batch-sampler interface (an iterable of index lists with ``len``), so
    it can feed a ``DataLoader(batch_sampler=...)``; ensemblekit's nets take it with
    ``batch_sampler=BalancedBatchSampler`` (extra arguments as ``batch_sampler__*``). Each
    epoch has ``ceil(n_samples / batch_size)`` batches; within each class the rows are
    shuffled and cycled, so minority rows are repeated and majority rows spread over epochs.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of the rows the indices refer to.
    batch_size : int
    sampling_ratio : None or dict, default=None
        Relative share of each class in a batch, e.g. ``{0: 3, 1: 1}``; None gives equal
        shares. Classes left out of the dict are not sampled.
    random_state : None, int or RandomState, default=None
        The same int gives the same sequence of epochs.

    Attributes
    ----------
    sampling_ratio : dict
        Each class's share of a batch, as resolved from ``sampling_ratio``.

    See Also
    --------
    FocalLoss : weigh hard examples up instead of resampling.
    compute_class_weight : weigh classes in the loss instead.
    ensemblekit.ensemble.BaggingClassifier : balanced bagging, with ``sampling_strategy``.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.imbalance import BalancedBatchSampler
    >>> y = np.array([0] * 95 + [1] * 5)
    >>> batches = list(BalancedBatchSampler(y, batch_size=10, random_state=0))
    >>> len(batches), [int((y[b] == 1).sum()) for b in batches[:3]]
    (10, [5, 5, 5])
    """

    def __init__(self, y, *, batch_size: int, sampling_ratio=None, random_state=None):
        self.y = check_labels(y)
        if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}.")
        self.batch_size = int(batch_size)
        classes = np.unique(self.y)
        ratio = {c: 1.0 for c in classes} if sampling_ratio is None else dict(sampling_ratio)
        unknown = set(ratio) - set(classes.tolist())
        if unknown:
            raise ValueError(f"sampling_ratio has classes {sorted(unknown)} that are not in y.")
        shares = list(ratio.values())
        if not all(isinstance(v, Real) and 0 <= v < np.inf for v in shares) or sum(shares) <= 0:
            raise ValueError(
                f"sampling_ratio needs finite non-negative shares with a positive sum, got "
                f"{ratio!r}."
            )
        self.sampling_ratio = ratio
        self._rng = check_random_state(random_state)
        self._pools = {c: np.flatnonzero(self.y == c) for c in ratio if ratio[c] > 0}
        self._positions = {c: len(pool) for c, pool in self._pools.items()}  # force a shuffle

    def __len__(self) -> int:
        return -(-len(self.y) // self.batch_size)

    def _per_batch(self) -> dict:
        """Rows of each class in a batch: largest remainders of the shares, summing to size."""
        shares = np.array([float(self.sampling_ratio[c]) for c in self._pools])
        exact = shares / shares.sum() * self.batch_size
        counts = np.floor(exact).astype(int)
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[: self.batch_size - counts.sum()]] += 1
        return dict(zip(self._pools, counts, strict=True))

    def _take(self, cls, k: int) -> np.ndarray:
        pool, out = self._pools[cls], []
        while k > 0:
            if self._positions[cls] >= len(pool):
                self._pools[cls] = pool = self._rng.permutation(pool)
                self._positions[cls] = 0
            step = min(k, len(pool) - self._positions[cls])
            out.append(pool[self._positions[cls] : self._positions[cls] + step])
            self._positions[cls] += step
            k -= step
        return np.concatenate(out) if out else np.empty(0, dtype=int)

    def __iter__(self):
        per_batch = self._per_batch()
        for _ in range(len(self)):
            batch = np.concatenate([self._take(c, k) for c, k in per_batch.items()])
            yield self._rng.permutation(batch).tolist()


def check_labels(y) -> np.ndarray:
    """Class labels, at least one, none of them NaN or infinite (a NaN is a class of its own
    to ``np.unique``, and a class of rows no one labelled)."""
    y = np.asarray(y)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y must be a 1-D array of at least one class label, got shape {y.shape}.")
    if y.dtype.kind in "fc" and not np.isfinite(y).all():
        raise ValueError("y holds NaN or infinity: every row needs a class label.")
    return y


def correct_prior_shift(proba, *, train_prior, true_prior) -> np.ndarray:
    """Correct probabilities of a model trained on a resampled class prior (Saerens 2002).

    ``p(c | x) ∝ p'(c | x) * true_prior[c] / train_prior[c]``, renormalised per row. Without
    it, a model trained on balanced data over-predicts the minority class.

    Parameters
    ----------
    proba : array-like of shape (n_samples, n_classes)
        The model's probabilities, columns in class order.
    train_prior : array-like of shape (n_classes,)
        Class shares the model was trained on (after resampling).
    true_prior : array-like of shape (n_classes,)
        Class shares where the model is deployed.

    Returns
    -------
    proba : ndarray of shape (n_samples, n_classes)

    See Also
    --------
    BalancedBatchSampler : a resampling whose prior it corrects.
    ensemblekit.ensemble.BaggingClassifier : ``correct_prior=True`` applies it to a balanced bag.

    Examples
    --------
    >>> import numpy as np
    >>> from ensemblekit.imbalance import correct_prior_shift
    >>> correct_prior_shift(np.array([[0.5, 0.5]]), train_prior=[0.5, 0.5],
    ...                     true_prior=[0.9, 0.1]).round(2)
    array([[0.9, 0.1]])
    """
    proba = np.asarray(proba, dtype=float)
    train_prior = np.asarray(train_prior, dtype=float)
    true_prior = np.asarray(true_prior, dtype=float)
    if proba.ndim != 2 or not (len(train_prior) == len(true_prior) == proba.shape[1]):
        raise ValueError(
            f"proba has {proba.shape[-1]} columns; train_prior and true_prior need one share "
            f"per column, got {len(train_prior)} and {len(true_prior)}."
        )
    if not (np.isfinite(train_prior).all() and np.all(train_prior > 0)):
        raise ValueError(f"train_prior must be finite positive shares, got {train_prior}.")
    if not np.isfinite(true_prior).all() or np.any(true_prior < 0) or true_prior.sum() <= 0:
        raise ValueError(
            f"true_prior must be finite non-negative shares with a positive sum, got {true_prior}."
        )
    if not np.isfinite(proba).all() or np.any(proba < 0):
        raise ValueError("proba must hold finite, non-negative probabilities.")
    corrected = proba * (true_prior / train_prior)
    total = corrected.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(
            f"rows {np.flatnonzero(total[:, 0] <= 0).tolist()} give every class with a "
            "positive true_prior a probability of 0: there is nothing to renormalise."
        )
    return corrected / total
