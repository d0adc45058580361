"""Class-wise row resampling with imbalanced-learn's meaning of ``sampling_strategy``: the
index arithmetic a balanced bag draws each member's rows with."""

from __future__ import annotations

from numbers import Real

import numpy as np


def resampling_targets(counts: dict, sampling_strategy) -> dict:
    """Rows to keep of each class, with imbalanced-learn's meaning of ``sampling_strategy``.

    ``"auto"`` (under-sampling's "not minority") brings every class down to the minority's
    count; a float ``r`` in (0, 1] (two classes) keeps the majority at ``n_minority / r``;
    a dict gives the counts of the classes it names (more than present over-samples).
    """
    if isinstance(sampling_strategy, str):
        if sampling_strategy != "auto":
            raise ValueError(
                f"sampling_strategy must be 'auto', a float or a dict, got {sampling_strategy!r}."
            )
        smallest = min(counts.values())
        return {c: smallest for c in counts}
    if isinstance(sampling_strategy, Real):
        if len(counts) != 2 or not 0 < float(sampling_strategy) <= 1:
            raise ValueError(
                "A float sampling_strategy is the minority/majority ratio after resampling: "
                f"it needs two classes and a value in (0, 1], got {sampling_strategy!r}."
            )
        minority = min(counts, key=counts.get)
        majority = max(counts, key=counts.get)
        kept = max(counts[minority], int(counts[minority] / float(sampling_strategy)))
        return {minority: counts[minority], majority: min(kept, counts[majority])}
    if isinstance(sampling_strategy, dict):
        unknown = set(sampling_strategy) - set(counts)
        if unknown:
            raise ValueError(f"sampling_strategy names classes {sorted(unknown)} not in y.")
        if any(int(v) < 0 for v in sampling_strategy.values()):
            raise ValueError("sampling_strategy counts must be >= 0.")
        return {c: int(sampling_strategy.get(c, n)) for c, n in counts.items()}
    raise ValueError(
        f"sampling_strategy must be None, 'auto', a float or a dict, got {sampling_strategy!r}."
    )


def resample_rows(rng, rows: np.ndarray, y: np.ndarray, targets: dict, replacement: bool):
    """Draw ``targets[c]`` of each class's ``rows`` (with repeats when asked or needed)."""
    kept = []
    for cls, n_keep in targets.items():
        pool = rows[y[rows] == cls]
        if n_keep == 0 or len(pool) == 0:
            continue
        replace = replacement or n_keep > len(pool)
        kept.append(rng.choice(pool, n_keep, replace=replace))
    return np.sort(np.concatenate(kept))
