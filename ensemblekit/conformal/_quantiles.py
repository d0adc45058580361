"""The conformal quantiles: the k-th smallest score, k = ceil(level * (n + 1)), of n
calibration scores (Vovk et al. 2005; Barber et al. 2021 for the "plus" intervals)."""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..utils._fit_warnings import warn_user


def check_levels(confidence_level) -> np.ndarray:
    """``confidence_level`` as a 1-d array of distinct levels in (0, 1), or a ValueError
    that names the argument."""
    levels = np.atleast_1d(np.asarray(confidence_level, dtype=object))
    if levels.ndim != 1 or not len(levels):
        raise ValueError(
            f"confidence_level must be a number in (0, 1) or a list of them, got "
            f"{confidence_level!r}."
        )
    for level in levels:
        if isinstance(level, bool) or not isinstance(level, Real) or not 0 < level < 1:
            raise ValueError(
                f"confidence_level must be in (0, 1) (0.9 for 90% intervals), got {level!r}."
            )
    levels = levels.astype(float)
    if len(np.unique(levels)) != len(levels):
        raise ValueError(f"confidence_level lists a level twice: {list(levels)}.")
    return levels


def rows_needed(level: float) -> int:
    """The fewest calibration scores with a finite conformal quantile at ``level``."""
    return int(np.ceil(level / (1 - level) - 1e-12))


def upper(values: np.ndarray, level: float, axis: int = -1) -> np.ndarray:
    """The ceil(level * (n + 1))-th smallest of ``values`` along ``axis`` (n: its finite
    count there, NaN left out), or +inf where n is too small for the level."""
    values = np.moveaxis(np.asarray(values, dtype=float), axis, -1)
    if values.shape[-1] == 0:  # no scores: no finite quantile
        return np.full(values.shape[:-1], np.inf)[()]
    n = np.sum(~np.isnan(values), axis=-1)
    k = np.ceil(level * (n + 1) - 1e-12).astype(int)  # 1-based rank
    ordered = np.sort(values, axis=-1)  # NaN sort last
    index = np.clip(k - 1, 0, values.shape[-1] - 1)
    out = np.take_along_axis(ordered, index[..., None], axis=-1)[..., 0]
    return np.where(k > n, np.inf, out)


def lower(values: np.ndarray, level: float, axis: int = -1) -> np.ndarray:
    """The mirror of :func:`upper`: the ceil(level * (n + 1))-th largest, or -inf."""
    return -upper(-np.asarray(values, dtype=float), level, axis=axis)


def warn_if_unbounded(n: int, levels: np.ndarray, what: str) -> None:
    """Warn, naming the rows a level needs, when ``n`` scores give it infinite bounds."""
    short = [level for level in levels if np.ceil(level * (n + 1) - 1e-12) > n]
    if short:
        need = rows_needed(max(short))
        warn_user(
            f"{n} {what} are too few for confidence_level={max(short):g}: its bounds are "
            f"infinite. It needs at least {need}.",
            UserWarning,
        )
