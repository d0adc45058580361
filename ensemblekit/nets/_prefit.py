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

from ..utils._random import set_random_states

_WAITING: ContextVar[Prefitted | None] = ContextVar("ensemblekit_prefitted", default=None)


def _data_key(X, y) -> str:
    """A digest of the rows a net is fitted on (values, shape and dtype of X and y)."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (X, y):
        array = np.ascontiguousarray(np.asarray(part))
        digest.update(f"{array.shape}{array.dtype}".encode())
        digest.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return digest.hexdigest()


def _same(a, b) -> bool:
    try:
        return bool(np.all(a == b)) if isinstance(a, np.ndarray) else bool(a == b)
    except (TypeError, ValueError):
        return np.array_equal(np.asarray(a), np.asarray(b))


class Prefitted:
    """The nets waiting, within a :func:`prefitted` block, for the fit that adopts them.

    Attributes
    ----------
    n_waiting : int
        Members added and not adopted yet.

    See Also
    --------
    prefitted : the block that hands one out.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.nets import NeuralNetClassifier, prefitted
    >>> X, y = load_iris(return_X_y=True)
    >>> with prefitted() as waiting:
    ...     waiting.add({}, X, y, NeuralNetClassifier(max_epochs=2, random_state=0).fit(X, y))
    ...     waiting.n_waiting
    1
    """

    def __init__(self):
        self._members: list[tuple[dict, str, object]] = []
        self._seeds: dict[str, int] = {}

    @property
    def n_waiting(self) -> int:
        return len(self._members)

    def add(self, params: dict, X, y, member) -> None:
        """The fitted ``member`` waits for a net with ``params`` fitted on exactly X and y.

        Parameters
        ----------
        params : dict
            The parameters (``get_params`` names) the adopting net must have.
        X, y : array-like
            The rows the member was trained on, as the adopting fit receives them.
        member : NeuralNetClassifier or NeuralNetRegressor
            The fitted net whose trained state the adopting net takes, once.
        """
        self._members.append((dict(params), _data_key(X, y), member))

    def seed(self, X, y, random_state: int) -> None:
        """A net fitted from scratch on exactly X and y (and adopting nothing) gets its unset
        ``random_state`` parameters from this seed before it trains, as
        ``set_random_states(net, random_state, only_unset=True)`` gives them.

        Parameters
        ----------
        X, y : array-like
        random_state : int
        """
        self._seeds[_data_key(X, y)] = int(random_state)

    def _adopt(self, net, X, y) -> bool:
        """Give ``net`` the trained state of its waiting member; whether there was one."""
        if not self._members and not self._seeds:
            return False
        params, key = net.get_params(deep=True), _data_key(X, y)
        for position, (candidate, rows_key, member) in enumerate(self._members):
            if rows_key != key:
                continue
            if all(name in params and _same(params[name], v) for name, v in candidate.items()):
                del self._members[position]  # each member is adopted once
                # What the caller set on the net for the fit (scikit-learn's callback
                # context) stays; everything the member's fit made comes over.
                vars(net).update(vars(member))
                return True
        if key in self._seeds:
            set_random_states(net, self._seeds[key], only_unset=True)
        return False


@contextmanager
def prefitted() -> Iterator[Prefitted]:
    """Within the block, a fit of an ensemblekit net adopts a member trained beforehand
    when one waits for its parameters and rows, instead of training again.

    This is how a stacked search lets scikit-learn's own search loop score members that
    the stacked engine trained together: the loop's fits find them. A fit with
    ``sample_weight``, validation rows, ``warm_start`` or ``partial_fit`` never adopts.
    The block belongs to its thread (a ``contextvars`` variable): run the loop that should
    adopt in this thread (joblib's ``"sequential"`` backend).

    Yields
    ------
    waiting : Prefitted
        Add members to it with ``waiting.add(params, X, y, member)``.

    See Also
    --------
    ensemblekit.model_selection.StackedGridSearchCV : the search built on it.
    ensemblekit.engine.fit_members : the engine that trains the members.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.nets import NeuralNetClassifier, prefitted
    >>> X, y = load_iris(return_X_y=True)
    >>> trained = NeuralNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> with prefitted() as waiting:
    ...     waiting.add({"max_epochs": 2}, X, y, trained)
    ...     again = NeuralNetClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> again.module_ is trained.module_
    True
    """
    token = _WAITING.set(Prefitted())
    try:
        yield _WAITING.get()
    finally:
        _WAITING.reset(token)


def adopt_prefitted(net, X, y) -> bool:
    """Give ``net`` the trained state of its waiting member, if a block holds one."""
    waiting = _WAITING.get()
    return waiting is not None and waiting._adopt(net, X, y)
