"""Equality for result dataclasses that hold arrays.

A dataclass's generated ``==`` compares its fields as a tuple, which raises for numpy
arrays ("the truth value of an array ... is ambiguous"). Results that hold arrays take
``__eq__`` and ``allclose`` from :class:`ArrayFieldsEqual` instead.
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np


def _same(a, b, *, rtol: float | None, atol: float) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rtol=rtol, atol=atol) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
            return False
        numeric = a.dtype.kind in "biufc" and b.dtype.kind in "biufc"
        if not numeric:
            return bool(np.array_equal(a, b))
        if rtol is None:
            return bool(np.array_equal(a, b, equal_nan=True))
        return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
    if isinstance(a, float) and isinstance(b, float):
        if np.isnan(a) and np.isnan(b):
            return True
        if rtol is not None:
            return bool(np.isclose(a, b, rtol=rtol, atol=atol))
    return bool(a == b)


class ArrayFieldsEqual:
    """``==`` field by field, arrays by value (NaN equals NaN), for dataclasses with
    ``eq=False``; ``allclose`` compares floats and float arrays to a tolerance."""

    __hash__ = None  # equal by value and mutable arrays inside: not hashable

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(
            _same(getattr(self, f.name), getattr(other, f.name), rtol=None, atol=0.0)
            for f in fields(self)
        )

    def allclose(self, other, *, rtol: float = 1e-7, atol: float = 0.0) -> bool:
        """True when ``other`` is a result of the same kind whose numbers agree with these
        within ``np.allclose``'s tolerance (NaN equals NaN) and whose other fields are equal.

        Parameters
        ----------
        other : result of the same class
        rtol, atol : float, default=1e-7, 0.0
            As in :func:`numpy.allclose`.

        Returns
        -------
        close : bool
        """
        if type(other) is not type(self):
            raise TypeError(
                f"allclose compares two {type(self).__name__} objects, got {type(other).__name__}."
            )
        return all(
            _same(getattr(self, f.name), getattr(other, f.name), rtol=rtol, atol=atol)
            for f in fields(self)
        )
