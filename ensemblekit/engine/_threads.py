"""The thread budget: how many torch threads a net and a worker get. The engine owns it."""

from __future__ import annotations

import joblib


def net_threads() -> int:
    """The torch intra-op threads an ensemblekit net with ``n_threads=None`` (its default)
    fits and predicts with: 1.

    The count does not depend on where the net trains (the main process, a joblib worker,
    a Dask or Ray worker) nor on ``n_jobs``: CPU matrix products round differently with
    different thread counts, so a fixed count is what makes one ``random_state`` give
    bit-identical nets everywhere. Parallelism comes from the members: the engine runs
    ``n_jobs`` of them side by side, or trains them stacked. A net's own ``n_threads``
    (an int, or -1 for torch's setting) wins over this count.

    Returns
    -------
    n_threads : int

    See Also
    --------
    fit_members : runs members side by side, each with this many threads.

    Examples
    --------
    >>> from ensemblekit.engine import net_threads
    >>> net_threads()
    1
    """
    return 1


def worker_threads(n_workers: int) -> int:
    """Torch threads of a worker process that runs one of ``n_workers`` tasks side by side:
    its share of the machine's cores (for whatever in the task does not pin its own)."""
    return max(1, joblib.cpu_count() // max(1, n_workers))
