"""Tasks on Ray, when ``joblib.parallel_config(backend="ray")`` is active.

Ray's joblib backend runs each ``Parallel`` call on a new pool of Ray actors: starting the
pool took 0.5 to 1 s per call on 2 CPUs, longer than a stacked fit of 32 small nets
(0.27x ``n_jobs=1`` in all). The engine sends its tasks as Ray tasks instead, to the
workers Ray keeps started: the data goes to Ray's object store once per fit, the tasks
are the same ``_fit_task`` calls joblib would make, their results come back as each
ends, and the tasks still running are cancelled if the fit stops (Ctrl-C, a member's
error).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence


def on_ray(backend) -> bool:
    """Whether ``backend`` (joblib's active backend) is Ray's."""
    return type(backend).__module__.startswith("ray.")


def ray_tasks(function: Callable, shared, calls: Sequence[tuple]) -> Iterator:
    """``function(shared, *call)`` for each call, on Ray's workers, with one CPU each;
    yields the results in the order the tasks end. ``shared`` goes to the object store
    once. Closing the iterator early cancels the tasks that have not ended."""
    import ray

    remote = ray.remote(num_cpus=1, max_retries=0)(function)
    shared_ref = ray.put(shared)
    pending = [remote.remote(shared_ref, *call) for call in calls]
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    finally:
        for ref in pending:  # a fit that stopped: its other tasks stop too
            ray.cancel(ref, force=True)
