"""Several nets of one architecture trained as one model: how the nets fit many members.

The member engine hands a net's seeded clones and their plans to ``fit_stacked``. Each
member is prepared by the code of its own fit (its targets, weights, seeds, early-stopping
split and initialisation), on row indices into one shared X: no member's rows are copied,
they are gathered batch by batch. The members' weights are then stacked into ``(K, ...)``
tensors and trained in lockstep: one stacked forward (batched matrix products for
ensemblekit's MLP, ``torch.func.vmap`` for any other module), the net's own per-row loss,
one optimizer over the stacked tensors. The optimizers allowed update every element from
its own gradient and state alone, so each member gets exactly the steps of its own fit;
members whose optimizer settings differ (their own learning rates, or a scheduler that
follows each member's validation loss) get a parameter group each.

At the end of every epoch each member gets its current weights back and runs its own
epoch-level callbacks: skorch's history records, timer and print log, learning-rate
schedulers and early stopping. A member whose early stopping fires leaves the stack (so it
is frozen, while the others go on) with its optimizer state, and restores its best weights
as its own fit would.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.utils import check_array
from skorch.callbacks import Callback, LRScheduler

from ..utils._mixins import check_member_fit
from ..utils._private import _safe_indexing
from ..utils._torch import seeded_torch, tensor_versions
from ..utils._validation import as_float32
from ._functional import VmapForward, training_bytes_per_row, vmap_blocker
from ._mlp import stacked_forward, stacks_by_bmm

# Optimizers whose update of an element depends only on that element's gradient and state.
ELEMENTWISE_OPTIMIZERS = (
    torch.optim.SGD,
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
    torch.optim.Adadelta,
    torch.optim.Adamax,
    torch.optim.NAdam,
    torch.optim.RAdam,
    torch.optim.ASGD,
    torch.optim.Rprop,
)
# Callback hooks that run inside an epoch; stacked members run callbacks once an epoch.
_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


@dataclass
class _Rows:
    """Rows of one member as indices into X, with their encoded targets and loss weights."""

    rows: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None

    def __post_init__(self):
        # Encoded class labels as int32: half the memory of int64 while members wait.
        if self.y.dtype.kind in "iu" and self.y.dtype != np.int32:
            self.y = self.y.astype(np.int32)

    def take(self, positions: np.ndarray) -> _Rows:
        weight = None if self.weight is None else self.weight[positions]
        return _Rows(self.rows[positions], self.y[positions], weight)


@dataclass
class MemberRows:
    """What one member trains on (and early stopping monitors), and its columns."""

    train: _Rows
    valid: _Rows | None
    features: np.ndarray | None


def _take_rows(y, rows) -> np.ndarray:
    return np.asarray(y)[np.asarray(rows)]


def _name(component) -> str:
    return getattr(component, "__name__", type(component).__name__)


def _user_callbacks(net):
    if net.callbacks in (None, "disable"):
        return []
    return [item if isinstance(item, tuple) else (_name(item), item) for item in net.callbacks]


def stacking_blocker(net, X, y, plans, fit_params: dict | None) -> str | None:
    """Why clones of ``net`` cannot train as stacked models on ``plans`` (None: they can).

    The settings are read first; then one member is prepared on the first plan and its
    module, criterion and backward pass are tried, stacked, on a few rows.
    """
    if sparse.issparse(X):
        return "X is sparse (stacked training takes dense X; nets fitted one by one take it)"
    reason = _settings_blocker(net, fit_params) or _params_blocker(plans)
    if reason is not None or not plans:
        return reason
    member, rows, torch_seed = _started(net, X, y, plans[0])
    with member._threads(), seeded_torch(torch_seed, member.device):
        if stacks_by_bmm(member.module_):
            return None
        few = rows.train.take(np.arange(min(len(rows.train.rows), 4)))
        inputs = _safe_indexing(X, few.rows)
        if rows.features is not None:
            inputs = _safe_indexing(inputs, rows.features, axis=1)
        inputs = torch.as_tensor(check_array(inputs, dtype=np.float32), device=member.device)
        targets = torch.as_tensor(few.y, device=member.device)
        if targets.dtype == torch.int32:
            targets = targets.long()
        return vmap_blocker(member, member.module_, inputs, targets)


def _started(net, X, y, plan):
    """A clone of ``net`` as its fit on ``plan`` starts: settings checked, rows drawn,
    module, criterion and optimizer built. Returns it, its rows and torch's seed."""
    member = clone(net).set_params(**(plan.params or {}))
    rows, torch_seed = member._begin_member_fit(X, y, plan)
    with member._threads(), seeded_torch(torch_seed, member.device):
        member.initialize()
    return member, rows, torch_seed


def startup_error(net, X, y, plan) -> Exception | None:
    """What stops a clone of ``net`` from starting its fit on ``plan`` (an invalid setting:
    ``lr=-1``, ``module__dropout=1.5``, an optimizer's ``weight_decay=-1``); None if it
    starts. Nothing is trained."""
    try:
        _started(net, X, y, plan)
    except Exception as error:  # whatever the net, its module or its optimizer raise
        return error
    return None


def stackable_param(name: str) -> bool:
    """Whether members trained as one model may differ in the parameter ``name``: the
    learning rate and the optimizer's settings (weight decay, momentum, betas), which the
    stacked optimizer keeps per member."""
    return name == "lr" or (name.startswith("optimizer__") and name != "optimizer__param_groups")


def _params_blocker(plans) -> str | None:
    differ = sorted({k for plan in plans for k in (plan.params or {}) if not stackable_param(k)})
    if differ:
        return (
            f"the members differ in {differ}, which members trained as one model must share "
            "(they may differ in lr and optimizer__ settings)"
        )
    return None


def _settings_blocker(net, fit_params: dict | None) -> str | None:
    """What in the net's settings rules stacked training out, before any data is seen."""
    if fit_params:
        return "fit parameters are passed to the members"
    if net.optimizer not in ELEMENTWISE_OPTIMIZERS:
        names = ", ".join(opt.__name__ for opt in ELEMENTWISE_OPTIMIZERS)
        return (
            f"the optimizer {_name(net.optimizer)} is not one whose update of a weight "
            f"depends on that weight alone ({names})"
        )
    if "param_groups" in net.get_params_for("optimizer"):
        return "the optimizer has param_groups"
    if net.iterator_train is not None or getattr(net, "batch_sampler", None) is not None:
        return "the net has its own training iterator or batch sampler"
    if net.warm_start:
        return "the net has warm_start=True"
    if net.compile:
        return "compile=True (stacked members run one stacked forward, not a compiled module)"
    for name, callback in _user_callbacks(net):
        hooks = _batch_hooks(callback)
        if hooks:
            return (
                f"the callback {name!r} acts on every batch ({', '.join(hooks)}); stacked "
                "members run callbacks once an epoch"
            )
    return None


def _batch_hooks(callback) -> list[str]:
    """The hooks by which ``callback`` (a class or an instance) acts inside an epoch."""
    kind = callback if isinstance(callback, type) else type(callback)
    hooks = [h for h in _BATCH_HOOKS if getattr(kind, h, None) is not getattr(Callback, h)]
    # skorch's LRScheduler acts on batches only through the member's optimizer settings
    # and history, which stacked members keep batch by batch (see _Stack._end_batch).
    if issubclass(kind, LRScheduler):
        hooks.remove("on_batch_end")
    return hooks


def _global_generator(device) -> torch.Generator:
    """A generator in the state torch's global one has now on ``device``: a member's own
    fit draws its dropout masks from there."""
    device = torch.device(device)
    generator = torch.Generator(device=device)
    if device.type == "cuda":
        generator.set_state(torch.cuda.get_rng_state(device))
    else:
        generator.set_state(torch.get_rng_state())
    return generator


def fit_stacked(members: list, X, y, plans, *, on_epoch=None) -> list:
    """Prepare each member as its fit would, then train them in stacks of one shape.

    Members are prepared one at a time and trained as soon as a chunk of one shape is
    full, so the rows and modules of at most one chunk per shape are in memory at once.
    """
    # One float32 copy at most; torch will not wrap a read-only array (joblib's memmaps).
    X = as_float32(check_array(X, dtype=(np.float32, np.float64), input_name="X"))
    X = np.require(X, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    X_host = torch.from_numpy(X)
    chunks, limits = {}, {}  # by shape: the members waiting, and how many fit at once
    try:
        for member, plan in zip(members, plans, strict=True):
            prepared = _prepare(member, X, y, plan)
            rows = prepared[0]
            # Members train in lockstep: same number of rows, input and output widths.
            key = (len(rows.train.rows), member.n_features_in_, member.n_outputs_)
            key = (*key, rows.valid is None)
            if key not in limits:
                limits[key] = _chunk_size(member, rows, X_host, len(members))
            chunk = chunks.setdefault(key, [])
            chunk.append((member, prepared))
            if len(chunk) == limits[key]:
                _train_chunk(chunk, X_host, on_epoch)
        for chunk in chunks.values():
            if chunk:
                _train_chunk(chunk, X_host, on_epoch)
    finally:
        for member in members:
            vars(member).pop("_shuffle", None)
            vars(member).pop("_watch", None)
    return members


def _prepare(member, X: np.ndarray, y, plan) -> tuple[MemberRows, torch.Generator | None]:
    """What the member's own fit does before training: its rows, seeds and weights."""
    rows, torch_seed = member._begin_member_fit(X, y, plan)
    with member._threads(), seeded_torch(torch_seed, member.device):
        member.initialize()
        # What the module's dropout would draw from in the member's own fit.
        generator = None if stacks_by_bmm(member.module_) else _global_generator(member.device)
    return rows, generator


def _train_chunk(chunk: list, X: torch.Tensor, on_epoch) -> None:
    """Train the prepared members of ``chunk`` as one stack, and empty the chunk."""
    members = [member for member, _ in chunk]
    prepared = [member_prepared for _, member_prepared in chunk]
    chunk.clear()  # the stack takes the members' rows, and lets each go once copied
    stack = _Stack(members, prepared, X)
    with members[0]._threads():
        stack.train(on_epoch)


def _available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` (a module-level function, so tests can shrink it): on the
    CPU the host's free memory, or what the container's cgroup leaves, if less."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    host = int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    cgroup = _cgroup_memory_left()
    return host if cgroup is None else min(host, cgroup)


# Where cgroups are mounted, and where the kernel says which ones this process is in.
_CGROUP_ROOT = Path("/sys/fs/cgroup")
_SELF_CGROUP = Path("/proc/self/cgroup")
# Per cgroup version: the controller's folder under the root, its limit and usage files.
_CGROUP_FILES = {
    "v2": ("", "memory.max", "memory.current"),
    "v1": ("memory", "memory.limit_in_bytes", "memory.usage_in_bytes"),
}


def _cgroup_memory_left() -> int | None:
    """What the memory limits of this process's cgroup and of every cgroup above it leave
    (limit minus usage; the least of them), in cgroup v2 and v1; None without a limit.

    A limit may sit on any level (a systemd slice, a batch scheduler's job), not only on
    the root, so each level from the process's own cgroup up to the root is read.
    """
    try:
        lines = _SELF_CGROUP.read_text().splitlines()
    except OSError:
        return None
    left = None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            version = "v2"
        elif "memory" in controllers.split(","):
            version = "v1"
        else:
            continue
        folder, limit_name, usage_name = _CGROUP_FILES[version]
        base = _CGROUP_ROOT / folder
        level = base / path.strip("/")
        while True:
            value = _memory_left(level / limit_name, level / usage_name)
            if value is not None:
                left = value if left is None else min(left, value)
            if level == base or base not in level.parents:
                break
            level = level.parent
    return left


def _memory_left(limit_file: Path, usage_file: Path) -> int | None:
    """A cgroup's limit minus its usage; None where it sets no limit."""
    try:
        limit = limit_file.read_text().strip()
        usage = usage_file.read_text().strip() if usage_file.exists() else "0"
        # "max" (v2) or a page-rounded 2**63 (v1) means no limit.
        if limit == "max" or int(limit) >= 2**62:
            return None
        return max(0, int(limit) - int(usage))
    except (OSError, ValueError):
        return None


def _chunk_size(member, rows: MemberRows, X: torch.Tensor, n_members: int) -> int:
    """How many of ``n_members`` members of this shape train at once in half the free
    memory of the device, with the members trained before them kept."""
    budget = _available_memory(torch.device(member.device)) // 2
    return stack_memory(member, rows, X).chunk_size(n_members, budget)


# Measured (CPython 3.11, skorch 1.3): the Python objects of one initialized net (module,
# criterion, optimizer, callbacks, history), and one batch's record in its history (its
# loss and size, in the history of a stacked fit).
_NET_BYTES = 24_000
_RECORD_BYTES = 360
# Measured: what a stack holds besides its members' share (its optimizer, the copy of the
# module vmap calls, and torch's working memory for a training step).
_STACK_BYTES = 200_000


@dataclass(frozen=True)
class StackMemory:
    """Bytes that training members of one shape in stacks takes.

    ``fixed``: for a stack (its own objects, a member's epoch order, X's copy on a GPU).
    Per member: ``kept`` from its preparation on (its net, module weights and history),
    ``state`` once its stack is done (its own optimizer's state), and ``training`` while
    its stack trains, at the most of two
    moments: during the batches (each row's index, target, weight and place in the
    epoch's order; the stacked weights, their gradients and two optimizer states; one
    batch's activations kept for backward) and at the end (the members' optimizer states
    written beside the stack's). A member's prepared rows are let go as the stack copies
    them, so they never add to this.
    """

    fixed: int
    kept: int
    state: int
    training: int

    def peak(self, n_members: int, chunk: int) -> int:
        """The most a pass over ``n_members`` in stacks of ``chunk`` uses: while the last
        stack trains, with every other member done."""
        done = n_members - chunk
        return self.fixed + n_members * self.kept + done * self.state + chunk * self.training

    def chunk_size(self, n_members: int, budget: int) -> int:
        """The most members a stack may hold for the pass to stay within ``budget``."""
        left = budget - self.fixed - n_members * (self.kept + self.state)
        return int(min(n_members, max(1, left // max(1, self.training - self.state))))


def stack_memory(member, rows: MemberRows, X: torch.Tensor) -> StackMemory:
    """What training members like ``member`` (prepared, with ``rows``) stacked takes."""
    module = member.module_
    n_params = sum(p.numel() for p in module.parameters())
    n = len(rows.train.rows)
    batch = min(member._rows_per_batch(n), n)
    sample = X[torch.as_tensor(rows.train.rows[: min(n, 16)])]
    if rows.features is not None:
        sample = sample[:, torch.as_tensor(rows.features)]
    with member._threads():
        per_row = training_bytes_per_row(module, sample.to(member.device))
    parts = [rows.train] if rows.valid is None else [rows.train, rows.valid]
    records = sum(math.ceil(len(part.rows) / batch) for part in parts)
    data = sum(len(part.rows) * _row_bytes(part) for part in parts)
    weights, epoch_records = 4 * n_params, records * _RECORD_BYTES
    # The last epoch's records are written once its batches' memory is free.
    batches = data + 4 * n + 4 * weights + batch * per_row - epoch_records
    end = data + 4 * weights + 2 * weights
    return StackMemory(
        # One member's epoch order as torch draws it (int64), before the stack keeps it.
        fixed=_STACK_BYTES + 8 * n + (0 if torch.device(member.device).type == "cpu" else X.nbytes),
        kept=_NET_BYTES + weights + int(member.max_epochs) * epoch_records,
        state=2 * weights,
        training=max(batches, end),
    )


def _row_bytes(rows: _Rows) -> int:
    """Bytes a row takes in a stack: its index (int32), target(s) and loss weight."""
    weight = 0 if rows.weight is None else 4
    return 4 + rows.y[:1].nbytes + weight


@torch.no_grad()
def _stacked_state(members: list, device) -> tuple[dict, dict]:
    """The members' module parameters and buffers, each stacked along a first axis of size
    K under the module's own names (``layers.0.weight``), on ``device``."""
    modules = [member.module_ for member in members]
    params = {
        name: torch.stack([m.get_parameter(name) for m in modules]).to(device)
        for name, _ in modules[0].named_parameters()
    }
    buffers = {
        name: torch.stack([m.get_buffer(name) for m in modules]).to(device)
        for name, _ in modules[0].named_buffers()
    }
    return params, buffers


def _columns(members: list, features: list, device) -> torch.Tensor | None:
    """Each member's input columns as a (K, width) index tensor; None when all take all."""
    if all(columns is None for columns in features):
        return None
    every = np.arange(members[0].n_features_in_)
    return _padded([every if columns is None else columns for columns in features], device)


def _stack_rows(rows: list, n_X: int, device) -> dict[str, torch.Tensor]:
    """The members' rows, targets and weights as (K, longest, ...) tensors, zero-padded
    (weights of one for members without weights). ``rows`` is emptied as it is copied, so
    each member's own arrays are let go at once."""
    first = rows[0]
    # Row indices as int32 (half the memory of int64) when X has fewer than 2**31 rows.
    index = np.int32 if n_X < 2**31 else np.int64
    parts = {"": [r.train for r in rows]}
    if first.valid is not None:
        parts["valid_"] = [r.valid for r in rows]
    arrays = {}
    for prefix, members in parts.items():
        longest = max(len(part.rows) for part in members)
        shape = (len(rows), longest)
        arrays[prefix + "rows"] = np.zeros(shape, dtype=index)
        arrays[prefix + "y"] = np.zeros(shape + members[0].y.shape[1:], members[0].y.dtype)
        if any(part.weight is not None for part in members):
            arrays[prefix + "weight"] = np.zeros(shape, dtype=np.float32)
    del parts
    lengths = []
    for k in range(len(rows)):
        member, rows[k] = rows[k], None
        for prefix, part in [("", member.train), ("valid_", member.valid)]:
            if prefix + "rows" not in arrays:
                continue
            arrays[prefix + "rows"][k, : len(part.rows)] = part.rows
            arrays[prefix + "y"][k, : len(part.rows)] = part.y
            if prefix + "weight" in arrays:
                weight = 1 if part.weight is None else part.weight
                arrays[prefix + "weight"][k, : len(part.rows)] = weight
        if member.valid is not None:
            lengths.append(len(member.valid.rows))
    data = {name: torch.from_numpy(array).to(device) for name, array in arrays.items()}
    if lengths:
        data["valid_length"] = torch.tensor(lengths, device=device)
    return data


def _padded(parts: list[np.ndarray], device, dtype=None) -> torch.Tensor:
    """Arrays of different lengths as one (K, longest, ...) tensor, zero-padded."""
    longest = max(len(part) for part in parts)
    shape = (len(parts), longest, *parts[0].shape[1:])
    out = np.zeros(shape, dtype=parts[0].dtype if dtype is None else dtype)
    for k, part in enumerate(parts):
        out[k, : len(part)] = part
    return torch.from_numpy(out).to(device)


class _Stack:
    """K prepared members of one shape: their weights stacked, trained in lockstep."""

    def __init__(self, members: list, prepared: list[tuple], X: torch.Tensor):
        """``prepared`` (each member's rows and dropout generator) is emptied: each
        member's rows are let go once the stack has copied them."""
        first = members[0]
        rows = [member_rows for member_rows, _ in prepared]
        # Dropout generators of members whose module runs through vmap (None for MLPs).
        self.generators = [generator for _, generator in prepared]
        prepared.clear()
        self.vmap = None if stacks_by_bmm(first.module_) else VmapForward(first.module_)
        self.members, self.first = members, first
        self.device = device = torch.device(first.device)
        self.X = X.to(device)
        self.n_epochs = int(first.max_epochs)
        n_rows = len(rows[0].train.rows)
        self.batch_size = first._rows_per_batch(n_rows)
        columns = _columns(members, [r.features for r in rows], device)
        self.data = _stack_rows(rows, len(X), device)
        if columns is not None:
            self.data["features"] = columns
        params, self.buffers = _stacked_state(members, device)
        self.optimizer_kwargs = first.get_params_for("optimizer")
        self.optimizer_kwargs.setdefault("lr", first.lr)
        # One multi-tensor kernel per update on the CPU too (torch picks it only on GPUs).
        self.optimizer_kwargs.setdefault("foreach", True)
        self._group(params, {}, list(range(len(members))))
        # Learning-rate schedulers stepped every batch need each batch's records and steps.
        self.batch_schedulers = any(
            isinstance(callback, LRScheduler) and callback.step_every == "batch"
            for member in members
            for _, callback in member.callbacks_
        )

    # ------------------------------------------------------------------ the loop
    def train(self, on_epoch=None) -> None:
        """Run every member's epochs as its own fit's loop would, all members at once."""
        for member in self.members:
            member.notify("on_train_begin", X=None, y=None)
        for epoch in range(self.n_epochs):
            for member in self.members:
                member.notify("on_epoch_begin", dataset_train=None, dataset_valid=None)
            # Settings the members' callbacks gave their optimizers since the last epoch (a
            # scheduler sets the first learning rate when it is created, at on_train_begin).
            self._adopt_optimizer_settings()
            train = self._train_epoch()
            valid = self._valid_epoch() if "valid_rows" in self.data else None
            self._sync_members()
            stopped = []
            for k, member in enumerate(self.members):
                # The stack stepped the member's weights: its own optimizer takes an empty
                # step (no weight has a gradient), so torch's LR schedulers see it stepped.
                member.optimizer_.step()
                _record(member.history, "train", *train[k], batches=not self.batch_schedulers)
                if valid is not None:
                    _record(member.history, "valid", *valid[k])
                try:
                    member.notify("on_epoch_end", dataset_train=None, dataset_valid=None)
                except KeyboardInterrupt:  # skorch's way for a callback to stop training
                    if not vars(member).pop("_stopped_by_callback", False):
                        raise  # Ctrl-C, not a callback: the whole fit stops
                    stopped.append(k)
            left = self.n_epochs - epoch - 1
            if on_epoch is not None:
                on_epoch((len(self.members) + len(stopped) * left) / self.n_epochs)
            if stopped:
                self._release(stopped)
            if not self.members:
                return
        self._release(range(len(self.members)))

    def _forward(self, rows: torch.Tensor, training: bool) -> torch.Tensor:
        """The stacked output for each member's ``rows`` (K, b): rows gathered per batch."""
        if "features" in self.data:
            inputs = self.X[rows[..., None], self.data["features"][:, None, :]]
        else:
            inputs = self.X[rows]
        if self.vmap is not None:
            return self._vmap_forward(inputs, training)
        modules = [m.module_ for m in self.members]
        return stacked_forward(modules, self.params, self.buffers, inputs, training)

    def _vmap_forward(self, inputs: torch.Tensor, training: bool) -> torch.Tensor:
        """The vmapped forward; a lone member runs beside a throwaway copy of itself, as
        torch's kernels for one member (a convolution without groups) round differently
        from those for several, and a member must not depend on its stack-mates."""
        params, buffers, generators = self.params, self.buffers, self.generators
        if len(inputs) > 1:
            return self.vmap(params, buffers, inputs, training, generators)
        params = {name: tensor.expand(2, *tensor.shape[1:]) for name, tensor in params.items()}
        pair = {
            name: tensor.repeat(2, *[1] * (tensor.dim() - 1)) for name, tensor in buffers.items()
        }
        generators = [*generators, torch.Generator(self.device)]
        output = self.vmap(params, pair, inputs.expand(2, *inputs.shape[1:]), training, generators)
        with torch.no_grad():
            for name, tensor in buffers.items():
                tensor.copy_(pair[name][:1])
        return output[:1]

    def _losses(self, output, y, weight) -> torch.Tensor:
        """Each row's weighted loss, (K, b), by the net's own per-row loss."""
        if y.dtype == torch.int32:  # class indices are kept compact; losses take int64
            y = y.long()
        loss = self.first.row_losses(output.flatten(0, 1), y.flatten(0, 1)).view(y.shape[:2])
        return loss if weight is None else loss * weight

    def _train_epoch(self) -> list[tuple[list[float], list[int]]]:
        n_rows, n_members = self.data["rows"].shape[1], len(self.members)
        # Each member's epoch order from its own generator, as its fit draws it.
        order = torch.empty((n_members, n_rows), dtype=self.data["rows"].dtype)
        for k, member in enumerate(self.members):
            order[k] = torch.randperm(n_rows, generator=member._shuffle)
        order = order.to(self.device)
        starts = range(0, n_rows, self.batch_size)
        # One tensor for the epoch's losses: a small tensor kept per batch would scatter
        # long-lived allocations between the batches' temporaries and fragment the heap.
        losses = torch.empty((len(starts), n_members), device=self.device)
        sizes = []
        for batch, start in enumerate(starts):
            check_member_fit()  # the ensemble fit was stopped: so is this stack
            data = self.data
            positions = order[:, start : start + self.batch_size].long()
            output = self._forward(data["rows"].gather(1, positions), training=True)
            y = _gather(data["y"], positions)
            weight = data["weight"].gather(1, positions) if "weight" in data else None
            loss = self._losses(output, y, weight).mean(1)
            self.optimizer.zero_grad(set_to_none=True)
            loss.sum().backward()
            self.optimizer.step()
            losses[batch] = loss.detach()
            sizes.append(positions.shape[1])
            if self.batch_schedulers:
                moved = self._end_batch(losses[batch].tolist(), sizes[-1])
                if moved is not None:  # the members were regrouped: follow them
                    index = torch.tensor(moved, device=self.device)
                    order, losses = order[index], losses[:, index]
        per_member = losses.T.tolist()
        return [(per_member[k], sizes) for k in range(n_members)]

    def _end_batch(self, losses: list[float], size: int) -> list[int] | None:
        """What a member's own fit does after each training batch, for batch-stepped
        schedulers: the batch's history record, then ``on_batch_end``; the settings they
        give go to the stack (returns the members' new order if they were regrouped)."""
        for member, loss in zip(self.members, losses, strict=True):
            member.optimizer_.step()  # empty (no gradients): schedulers see it stepped
            member.notify("on_batch_begin", batch=None, training=True)
            member.history.record_batch("train_loss", loss)
            member.history.record_batch("train_batch_size", size)
            member.notify("on_batch_end", batch=None, training=True)
        return self._adopt_optimizer_settings()

    @torch.no_grad()
    def _valid_epoch(self) -> list[tuple[list[float], list[int]]]:
        """Each member's validation batches, as its own fit cuts them (rows padded to K)."""
        data = self.data
        length = data["valid_length"]
        sums, counts = [], []
        for start in range(0, data["valid_rows"].shape[1], self.batch_size):
            stop = start + self.batch_size
            output = self._forward(data["valid_rows"][:, start:stop], training=False)
            weight = data["valid_weight"][:, start:stop] if "valid_weight" in data else None
            loss = self._losses(output, data["valid_y"][:, start:stop], weight)
            mask = torch.arange(start, start + loss.shape[1], device=self.device) < length[:, None]
            sums.append((loss * mask).sum(1))
            counts.append(mask.sum(1))
        sums, counts = torch.stack(sums, 1).tolist(), torch.stack(counts, 1).tolist()
        per_member = []
        for member_sums, member_counts in zip(sums, counts, strict=True):
            batches = [(s / c, c) for s, c in zip(member_sums, member_counts, strict=True) if c]
            per_member.append(([loss for loss, _ in batches], [size for _, size in batches]))
        return per_member

    # ------------------------------------------------------------------ weights
    @property
    def params(self) -> dict[str, torch.Tensor]:
        """Every member's parameters, stacked: the parameter groups' tensors joined."""
        if len(self.groups) == 1:
            return self.groups[0]
        return {name: torch.cat([group[name] for group in self.groups]) for name in self.groups[0]}

    def _locate(self, k: int) -> tuple[dict, int]:
        """The parameter group holding member ``k``, and the member's position in it."""
        for group in self.groups:
            size = len(next(iter(group.values())))
            if k < size:
                return group, k
            k -= size
        raise IndexError(k)

    def _group(self, params: dict, state: dict, order: list[int]) -> list[int]:
        """Train the members at ``order`` (stacked ``params`` and optimizer ``state`` are
        indexed by the current positions) with one parameter group per optimizer setting:
        members are reordered so that each group's members are adjacent."""
        settings = [_settings(self.members[k].optimizer_) for k in order]
        keys = [repr(sorted(setting.items())) for setting in settings]
        first = {key: keys.index(key) for key in keys}
        ranked = sorted(range(len(order)), key=lambda i: first[keys[i]])
        order = [order[i] for i in ranked]
        index = torch.tensor(order, device=self.device)
        if order != list(range(len(self.members))):
            self.members = [self.members[k] for k in order]
            self.generators = [self.generators[k] for k in order]
            self.data = {name: value[index] for name, value in self.data.items()}
            self.buffers = {name: value[index] for name, value in self.buffers.items()}
        self.groups, param_groups, states = [], [], {}
        for key in dict.fromkeys(keys):
            members = torch.tensor([i for i, k in enumerate(order) if keys[ranked[i]] == key])
            rows = index[members.to(self.device)]
            group = {}
            for name, stacked in params.items():
                group[name] = stacked.detach()[rows].clone().requires_grad_(True)
                states[group[name]] = {
                    entry: _member_slice(value, stacked, rows)
                    for entry, value in state.get(name, {}).items()
                }
            self.groups.append(group)
            param_groups.append({"params": list(group.values()), **settings[first[key]]})
        self.optimizer = self.first.optimizer(param_groups, **self.optimizer_kwargs)
        self.optimizer.state.update(states)
        return order

    def _state(self) -> dict[str, dict]:
        """The stacked optimizer state of every member, by parameter name."""
        state = {}
        for name in self.groups[0]:
            parts = [self.optimizer.state.get(group[name], {}) for group in self.groups]
            state[name] = {
                entry: torch.cat([part[entry] for part in parts])
                if torch.is_tensor(value) and value.shape == self.groups[0][name].shape
                else value
                for entry, value in parts[0].items()
            }
        return state

    # ------------------------------------------------------------------ members
    @torch.no_grad()
    def _sync_members(self) -> None:
        """Each member's module gets its current weights and statistics from the stack."""
        for k, member in enumerate(self.members):
            group, position = self._locate(k)
            for name, tensor in member.module_.named_parameters():
                tensor.copy_(group[name][position])
            for name, tensor in member.module_.named_buffers():
                tensor.copy_(self.buffers[name][k])

    def _release(self, positions) -> None:
        """Members at ``positions`` end training: optimizer state back, train-end callbacks
        (early stopping restores the best weights), and the stack goes on without them."""
        positions = sorted(positions)
        for k in positions:
            member = self.members[k]
            self._write_optimizer_state(k, member)
            member.notify("on_train_end", X=None, y=None)
        keep = [k for k in range(len(self.members)) if k not in positions]
        if keep:
            self._group(self.params, self._state(), keep)
        else:
            self.members = []

    def _adopt_optimizer_settings(self) -> list[int] | None:
        """Settings callbacks gave the members' optimizers (a learning rate from a
        scheduler) go to the stacked optimizer: members regroup when their settings part.
        Returns the members' new order (positions in the old one) when they regrouped."""
        settings = [_settings(member.optimizer_) for member in self.members]
        start = 0
        for group, param_group in zip(self.groups, self.optimizer.param_groups, strict=True):
            size = len(next(iter(group.values())))
            part = settings[start : start + size]
            if any(other != part[0] for other in part[1:]):
                return self._group(self.params, self._state(), list(range(len(self.members))))
            param_group.update(part[0])
            start += size
        return None

    def _write_optimizer_state(self, k: int, member) -> None:
        """Member ``k``'s slice of the stacked optimizer state, as its own optimizer's."""
        named = dict(member.module_.named_parameters())
        group, position = self._locate(k)
        for name, stacked in group.items():
            state = self.optimizer.state.get(stacked)
            if state:
                member.optimizer_.state[named[name]] = {
                    key: _member_slice(value, stacked, position) for key, value in state.items()
                }


def _settings(optimizer) -> dict:
    """An optimizer's hyper-parameters (its one parameter group, less its tensors and the
    implementation choice, which differs between a member and the stack)."""
    group = optimizer.param_groups[0]
    return {key: value for key, value in group.items() if key not in ("params", "foreach")}


def _member_slice(value, stacked: torch.Tensor, index):
    """A stacked optimizer state entry for the member(s) at ``index``; scalars as they are."""
    if torch.is_tensor(value):
        if value.shape == stacked.shape:
            return value[index].clone()
        return value.clone()
    return value


def _gather(values: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """``values[k, positions[k]]`` for every member k; values may have trailing axes."""
    members = torch.arange(len(values), device=values.device)[:, None]
    return values[members, positions]


def _record(history, prefix: str, losses, sizes, *, batches: bool = True) -> None:
    """What skorch's ``run_single_epoch`` records for one member's batches (``batches``
    False: they were recorded batch by batch already)."""
    for loss, size in zip(losses if batches else [], sizes if batches else [], strict=True):
        history.new_batch()
        history.record_batch(f"{prefix}_loss", loss)
        history.record_batch(f"{prefix}_batch_size", size)
    history.record(f"{prefix}_batch_count", len(sizes))


class StackedPredictor:
    """Fitted members of one architecture with their weights stacked: one forward pass
    predicts them all (batched matrix products for the MLP, ``torch.func.vmap`` for any
    other module). Members that cannot (a custom nonlinearity, a module vmap cannot run)
    get None and are predicted one by one by the caller.

    Built once per set of members and reused while their weights are unchanged.
    """

    def __init__(self, members: list, features: list):
        self.members = list(members)
        self.tensors = [t for m in self.members if _predicts_stacked(m) for t in _state(m)]
        self.versions = tensor_versions(self.tensors)
        groups = {}
        for index, member in enumerate(self.members):
            if _predicts_stacked(member):
                groups.setdefault(_architecture(member), []).append(index)
        self.stacks = []
        for indices in groups.values():
            group = [self.members[i] for i in indices]
            device = torch.device(group[0].device)
            params, buffers = _stacked_state(group, device)
            columns = _columns(group, [features[i] for i in indices], device)
            module = group[0].module_
            forward = None if stacks_by_bmm(module) else VmapForward(module)
            self.stacks.append([indices, params, buffers, columns, forward])

    def is_current(self, members: list) -> bool:
        """Whether these are the same members with the same weights as at construction."""
        return (
            len(members) == len(self.members)
            and all(a is b for a, b in zip(members, self.members, strict=True))
            and tensor_versions(self.tensors) == self.versions
        )

    def __call__(self, X: np.ndarray) -> list[np.ndarray | None]:
        """Each member's ``predict_proba`` (classifiers) or ``predict`` output on X, a
        numeric array already validated by the caller (its width, its type)."""
        outputs: list = [None] * len(self.members)
        if not self.stacks or sparse.issparse(X):  # sparse rows: each member densifies its batches
            return outputs
        X = np.require(as_float32(np.asarray(X)), requirements=["C_CONTIGUOUS", "WRITEABLE"])
        if not np.isfinite(X).all():
            raise ValueError("Input X contains NaN or infinity; the member nets need finite X.")
        X = torch.from_numpy(X)
        for stack in self.stacks:
            indices, params, buffers, columns, forward = stack
            first = self.members[indices[0]]
            with first._threads(), torch.no_grad():
                inputs = X.to(torch.device(first.device))
                if columns is None:
                    inputs = inputs.expand(len(indices), *inputs.shape)
                else:
                    inputs = inputs[:, columns].transpose(0, 1)
                if forward is None:
                    modules = [self.members[i].module_ for i in indices]
                    out = stacked_forward(modules, params, buffers, inputs, training=False)
                else:
                    size = first._rows_per_batch(inputs.shape[1], training=False)
                    out = _vmap_predict(forward, params, buffers, inputs, size)
                    if out is None:  # vmap cannot run this module: one by one from now on
                        self.stacks.remove(stack)
                        continue
                out = first._get_predict_nonlinearity()(out).double().cpu().numpy()
            out = first._finish_prediction(finite_outputs(out, first))
            for position, index in enumerate(indices):
                outputs[index] = out[position]
        return outputs


def finite_outputs(output: np.ndarray, net) -> np.ndarray:
    """``output`` when finite: a prediction is never NaN without an error."""
    if not np.isfinite(output).all():
        raise ValueError(
            f"{type(net).__name__}'s outputs are not finite: its weights hold NaN or inf (a "
            "fit that diverged, or weights loaded from elsewhere). Refit it, with a lower lr "
            "if it diverged."
        )
    return output


def _vmap_predict(forward, params, buffers, inputs, size: int) -> torch.Tensor | None:
    """The members' outputs in batches of ``size`` rows (a module's activations can be
    wide); None when vmap cannot run the module."""
    try:
        parts = [
            forward(params, buffers, inputs[:, start : start + size], training=False)
            for start in range(0, inputs.shape[1], size)
        ]
    except Exception:  # the members predict one by one instead, as their own nets do
        return None
    return torch.cat(parts, dim=1)


def _predicts_stacked(member) -> bool:
    return (
        hasattr(member, "stacking_blocker")
        and isinstance(getattr(member, "module_", None), torch.nn.Module)
        and getattr(member, "predict_nonlinearity", None) == "auto"
        and not member.compile
        and member.__sklearn_is_fitted__()
    )


def _state(member) -> list[torch.Tensor]:
    return [*member.module_.parameters(), *member.module_.buffers()]


def _architecture(member) -> tuple:
    """What must be equal for members to predict in one stacked pass: the module's
    structure and settings (its repr) and the shapes of its tensors."""
    module = member.module_
    shapes = tuple((name, tuple(t.shape)) for name, t in module.state_dict().items())
    return type(member), str(member.device), member.n_features_in_, repr(module), shapes
