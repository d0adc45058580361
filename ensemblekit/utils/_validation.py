"""Input checks shared by the nets, the ensembles and the validation tools."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from scipy import sparse


def plain(value):
    """``value`` as a user wrote it, for messages: a numpy scalar (``np.int64(0)``) as the
    Python scalar it holds (``0``)."""
    return value.item() if isinstance(value, np.generic) else value


def check_numeric(X, name: str = "X") -> None:
    """Refuse an ``X`` of strings or bytes, as scikit-learn's ``dtype="numeric"`` does: a
    float cast would parse ``"0.5"`` silently and fail deep inside on ``"red"``."""
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, (list, tuple)):
        dtype = np.asarray(X).dtype
    if getattr(dtype, "kind", None) in ("U", "S", "V"):
        raise ValueError(
            f"{name} holds strings or bytes (dtype {dtype}), and the nets compute on numbers. "
            f"Convert {name} to numbers explicitly ({name}.astype(float)), or encode text and "
            "categories first (OneHotEncoder, a vectorizer) in a Pipeline."
        )


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray | None:
    """Validate ``sample_weight`` for ``n_samples`` rows: finite, non-negative, not all zero.

    A scalar is broadcast to every row; None stays None.
    """
    if sample_weight is None:
        return None
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.ndim == 0:
        weight = np.full(n_samples, float(weight))
    if weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {weight.shape}, expected ({n_samples},): one weight per "
            "row of X."
        )
    if not np.all(np.isfinite(weight)):
        raise ValueError("sample_weight contains NaN or inf; pass finite weights.")
    if np.any(weight < 0):
        raise ValueError("sample_weight has negative entries; weights must be >= 0.")
    if weight.sum() <= 0:
        raise ValueError("sample_weight sums to zero; at least one row needs weight > 0.")
    return weight


def resolve_count(value, total: int, name: str, *, replace: bool = False) -> int:
    """An int count, or a float share of ``total``, as a number of items in [1, total].

    Drawn with replacement (``replace``), an int count may exceed ``total``, as
    scikit-learn's bagging allows since 1.9; a share stays in (0, 1].
    """
    is_int = isinstance(value, Integral)
    count = int(value) if is_int else round(float(value) * total)
    if not 1 <= count <= (count if replace and is_int else total):
        more = name.startswith("max_samples") and count > total
        beyond = " (more only when drawn with replacement: bootstrap=True)" * more
        raise ValueError(
            f"{name}={value!r} selects {count} of {total} items; use an int in [1, {total}]"
            f"{beyond} or a float in (0, 1]."
        )
    return count


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_float32(X, name: str = "X"):
    """Validated X as the nets take it: C-contiguous float32, or float32 CSR when sparse.

    Values finite in float64 but beyond float32's range would turn into inf in the cast:
    they are refused here, with the fix.
    """
    values = X.data if sparse.issparse(X) else X
    # max and -min: no temporary copy of X, as np.abs would make.
    check = values.dtype != np.float32 and values.size
    largest = max(values.max(), -values.min()) if check else 0.0
    # NaN and inf are left to the callers' finiteness checks, which name them.
    if np.isfinite(largest) and largest > _FLOAT32_MAX:
        raise ValueError(
            f"{name} has values beyond float32's range (|x| > {_FLOAT32_MAX:.3g}), which the "
            "nets compute in; scale the features (StandardScaler) before the net."
        )
    if sparse.issparse(X):
        return X.tocsr().astype(np.float32)
    return np.ascontiguousarray(X, dtype=np.float32)
