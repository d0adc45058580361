"""Seeds drawn up front, so results depend on random_state alone and never on n_jobs."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state as _sklearn_check_random_state

#: The bound (exclusive) of the seeds ensemblekit draws: it fits every generator it seeds
#: (NumPy's, torch's, scikit-learn's).
MAX_SEED = int(np.iinfo(np.int32).max)


def check_random_state(random_state) -> np.random.RandomState:
    """scikit-learn's ``check_random_state``, except that None seeds a new generator from
    the operating system's entropy: numpy's global generator, which scikit-learn would draw
    from, is left as the caller had it (so ``np.random.seed`` does not fix an unseeded
    estimator; an int ``random_state`` does)."""
    if random_state is None:
        return np.random.RandomState(np.random.SeedSequence().generate_state(4))
    return _sklearn_check_random_state(random_state)


def draw_seeds(random_state, n: int) -> np.ndarray:
    """Draw ``n`` integer seeds from ``random_state``, as scikit-learn's ensembles do.

    Parameters
    ----------
    random_state : None, int or RandomState
    n : int

    Returns
    -------
    seeds : ndarray of int of shape (n,)
        In ``[0, MAX_SEED)``. The first k of ``n`` seeds are the k seeds drawn alone.

    See Also
    --------
    set_random_states : seed every ``random_state`` of an estimator.
    ensemblekit.engine.MemberPlan : a plan that takes a drawn seed.

    Examples
    --------
    >>> from ensemblekit.utils import draw_seeds
    >>> bool((draw_seeds(0, 5)[:3] == draw_seeds(0, 3)).all())
    True
    """
    return check_random_state(random_state).randint(MAX_SEED, size=n)


def set_random_states(estimator: BaseEstimator, seed, *, only_unset: bool = False):
    """Give every ``random_state`` parameter of ``estimator`` (nested too) its own seed.

    ``seed`` is an int or a ``RandomState``; the seeds are drawn from it in the order of the
    sorted parameter names, as scikit-learn's ensembles draw them, so a member is
    reproducible wherever it is fitted (and, from a shared ``RandomState``, equal to
    scikit-learn's). With ``only_unset=True`` a ``random_state`` already set is kept.

    Parameters
    ----------
    estimator : estimator
        Changed in place (``set_params``).
    seed : int or RandomState
    only_unset : bool, default=False

    Returns
    -------
    estimator : estimator
        The same object.

    See Also
    --------
    draw_seeds : seeds drawn as scikit-learn's ensembles do.
    sklearn.utils.check_random_state : turn ``random_state`` into a generator.

    Examples
    --------
    >>> from sklearn.ensemble import BaggingClassifier
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.utils import set_random_states
    >>> bag = set_random_states(BaggingClassifier(DecisionTreeClassifier()), 0)
    >>> bag.random_state == bag.estimator.random_state
    False
    """
    params = estimator.get_params(deep=True)
    keys = sorted(key for key in params if key == "random_state" or key.endswith("__random_state"))
    if isinstance(seed, np.integer | int):
        seed = int(seed)
    seeds = dict(zip(keys, draw_seeds(seed, len(keys)), strict=True)) if keys else {}
    updates = {
        key: int(value)
        for key, value in seeds.items()
        if not (only_unset and params[key] is not None)
    }
    if updates:
        estimator.set_params(**updates)
    return estimator
