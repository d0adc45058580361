"""The conformity scores of prediction sets, from class probabilities.

Each score has two forms: the calibration score of a row's true label (``true_scores``)
and the score of every candidate label at prediction (``label_scores``). A label joins a
set when its score passes a threshold (``admits``): at most it for LAC and top-k, below
it for APS and RAPS. For APS and RAPS a label's prediction score is the probability
ranked above it, and a calibration score adds a uniform share ``1 - u`` of the true
label's own probability (Romano et al. 2020): so a true label whose calibration score
is under the threshold is always admitted, and sets are never empty. Randomized sets
add that share at prediction too (one draw per row) and admit at most the threshold:
their coverage is near the level rather than above it, and a set may be empty.

- LAC (Sadinle et al. 2019): ``1 - p(y)``.
- APS (Romano et al. 2020): the probability of the labels ranked above ``y``.
- RAPS (Angelopoulos et al. 2021): APS plus ``lambda_reg * max(0, rank(y) - k_reg)``.
- top-k: the rank of ``y`` (1 for the most probable label).
"""

from __future__ import annotations

import numpy as np

SCORES = ("lac", "aps", "raps", "top_k")


def _ranked(proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each label's 1-based rank by decreasing probability, and the probability ranked
    above it; both of ``proba``'s shape (labels on the last axis)."""
    order = np.flip(np.argsort(proba, axis=-1), axis=-1)
    ordered = np.take_along_axis(proba, order, axis=-1)
    above_sorted = np.cumsum(ordered, axis=-1) - ordered
    rank, above = np.empty_like(order), np.empty_like(proba)
    positions = np.broadcast_to(np.arange(1, proba.shape[-1] + 1), order.shape)
    np.put_along_axis(rank, order, positions, axis=-1)
    np.put_along_axis(above, order, above_sorted, axis=-1)
    return rank, above


def label_scores(proba, kind: str, k_reg: int, lambda_reg: float, u=None) -> np.ndarray:
    """The prediction score of every label: ``proba``'s shape. ``u``: one uniform per row
    (``proba``'s first axis) for randomized APS and RAPS sets."""
    if kind == "lac":
        return 1.0 - proba
    rank, above = _ranked(proba)
    if kind == "top_k":
        return rank.astype(float)
    if kind == "raps":
        above = above + lambda_reg * np.maximum(rank - k_reg, 0)
    if u is not None:
        above = above + (1.0 - u.reshape(-1, *[1] * (proba.ndim - 1))) * proba
    return above


def true_scores(proba, y_enc, u, kind: str, k_reg: int, lambda_reg: float) -> np.ndarray:
    """The calibration score of each row's true label (``proba``: (n, n_classes);
    ``u``: (n,) uniforms, used by APS and RAPS)."""
    scores = label_scores(proba, kind, k_reg, lambda_reg, u if kind in ("aps", "raps") else None)
    return np.take_along_axis(scores, y_enc[:, None], 1)[:, 0]


def admits(scores: np.ndarray, threshold, kind: str, randomized: bool) -> np.ndarray:
    """Whether each label's prediction score passes the threshold."""
    strict = kind in ("aps", "raps") and not randomized
    return scores < threshold if strict else scores <= threshold
