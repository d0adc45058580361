"""Members trained beforehand that a later fit of the same net on the same rows adopts.

A stacked search trains every candidate on every fold at once, then lets scikit-learn's
search loop run as usual: each fit there finds its member (same parameters, same rows) and
takes its trained state instead of training again, so the loop scores, ranks and reports
exactly as ``GridSearchCV`` does. Outside :func:`prefitted` nothing changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

# (candidate's parameters, key of its rows, fitted member) still waiting for their fit.
_WAITING: ContextVar[list | None] = ContextVar("ensemblekit_prefitted", default=None)


def data_key(X, y) -> str:
    """A digest of the rows a net is fitted on (values, shape and dtype of X and y)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (X, y):
        array = np.ascontiguousarray(np.asarray(part))
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return digest.hexdigest()


@contextmanager
def prefitted(entries: list[tuple[dict, str, object]]) -> Iterator[None]:
    """Within the block, a net fitted (from scratch, without weights or validation rows)
    with a candidate's parameters on the rows of an entry adopts that entry's member."""
    token = _WAITING.set(list(entries))
    try:
        yield
    finally:
        _WAITING.reset(token)


def _same(a, b) -> bool:
    try:
        return bool(np.all(a == b)) if isinstance(a, np.ndarray) else bool(a == b)
    except (TypeError, ValueError):
        return np.array_equal(np.asarray(a), np.asarray(b))


def adopt_prefitted(net, X, y) -> bool:
    """Give ``net`` the trained state of its waiting member, if there is one."""
    waiting = _WAITING.get()
    if not waiting:
        return False
    params, key = net.get_params(deep=True), None
    for position, (candidate, rows_key, member) in enumerate(waiting):
        if not all(name in params and _same(params[name], v) for name, v in candidate.items()):
            continue
        key = data_key(X, y) if key is None else key
        if rows_key == key:
            del waiting[position]  # each member is adopted once
            # What the caller set on the net for the fit (scikit-learn's callback context)
            # stays; everything the member's fit made comes over.
            vars(net).update(vars(member))
            return True
    return False
