"""Small torch helpers shared by the nets and the member engine."""

from __future__ import annotations

import contextlib
import copy
import inspect
import os
import threading
from collections.abc import Iterator

import torch

# torch's global generators are one per process: blocks that seed and draw from them take
# turns, so nets fitted side by side in threads draw the same numbers as one at a time.
_generator_lock = threading.RLock()


@contextlib.contextmanager
def seeded_torch(
    seed: int, device: str | torch.device = "cpu", *, exclusive: bool = True
) -> Iterator[None]:
    """Seed torch's global generators for the block and restore them afterwards.

    Needed only for modules that draw from the global generator (``nn.Dropout``, default
    ``nn.Linear`` init). The caller's random stream is left as it was. The global
    generator is shared by every thread of the process, so with ``exclusive`` the blocks of
    other threads wait; a block that draws nothing from it may pass ``exclusive=False``.
    """
    device = torch.device(device)
    cuda = [device.index or 0] if device.type == "cuda" else []
    lock = _generator_lock if exclusive else contextlib.nullcontext()
    with lock, torch.random.fork_rng(devices=cuda):
        torch.manual_seed(int(seed))
        yield


_threads_lock = threading.Lock()
_threads_state = {"depth": 0, "restore": None}


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with torch limited to ``n_threads`` intra-op threads.

    torch's thread count is one setting for the whole process, and joblib's threading
    backend runs several blocks at once: the count set on entry stays until the last block
    in flight leaves, which restores the value found before the first one entered.
    ``None`` leaves torch as it is.
    """
    if n_threads is None:
        yield
        return
    n_threads = max(1, int(n_threads))
    with _threads_lock:
        if _threads_state["depth"] == 0:
            _threads_state["restore"] = torch.get_num_threads()
        _threads_state["depth"] += 1
        if torch.get_num_threads() != n_threads:  # a user's count already right: untouched
            torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        with _threads_lock:
            _threads_state["depth"] -= 1
            if _threads_state["depth"] == 0 and torch.get_num_threads() != (
                restore := _threads_state["restore"]
            ):
                torch.set_num_threads(restore)


def net_with_state(net, state, *, what: str = "state"):
    """A deep copy of the fitted skorch ``net`` with module weights from ``state``.

    ``state`` is a state dict or the path of one saved with ``torch.save`` (what
    ``net.save_params(f_params=...)`` and skorch's ``Checkpoint`` write). A state of
    another architecture raises a ValueError that names ``what`` it was.
    """
    if isinstance(state, str | os.PathLike):
        state = torch.load(state, map_location="cpu", weights_only=True)
    copied = copy.deepcopy(net)
    try:
        copied.module_.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"The {what} does not fit the architecture of {type(net.module_).__name__} "
            f"(parameter names or shapes differ): {error}"
        ) from error
    return copied


def signature_has(component, name: str) -> bool:
    """Whether a module or criterion (class or instance) takes ``name`` in its constructor."""
    if isinstance(component, torch.nn.Module):
        component = type(component)
    try:
        return name in inspect.signature(component).parameters
    except (TypeError, ValueError):
        return False


def constructor_parameters(component) -> set[str] | None:
    """The keyword names a module, criterion or optimizer (class or instance) takes; None
    when they cannot be known (a ``**kwargs`` catch-all, a signature inspect cannot read)."""
    if not isinstance(component, type) and not inspect.isfunction(component):
        component = type(component)
    try:
        parameters = inspect.signature(component).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return {p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL}


#: Module keywords a net fills at fit from the data and its seeds.
FILLED_AT_FIT = ("n_features", "n_outputs", "random_state")


def module_defaults(module) -> dict:
    """``{name: default}`` of a module class's keyword arguments a user may set, but for
    those a net fills at fit; empty for a module instance (it is used as it is)."""
    if not isinstance(module, type):
        return {}
    try:
        parameters = inspect.signature(module).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {
        p.name: p.default
        for p in parameters
        if p.default is not inspect.Parameter.empty and p.name not in FILLED_AT_FIT
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }  # fmt: skip


def tensor_versions(tensors) -> list[int]:
    """Version counters of ``tensors``: every in-place change (an optimizer step, a
    ``load_state_dict``) bumps them, so equal versions mean unchanged values. Read from
    torch's ``Tensor._version``, the counter autograd keeps for the same purpose."""
    return [tensor._version for tensor in tensors]
