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

import numpy as np
import torch
from sklearn.utils import check_array
from skorch.callbacks import LRScheduler

from ..utils._mixins import check_member_fit
from ..utils._torch import seeded_torch
from ..utils._validation import as_float32
from ._data import MemberRows, SharedTargets
from ._functional import VmapForward
from ._mlp import stacked_forward, stacks_by_bmm
from ._precision import autocast
from ._stack_log import StackLog
from ._stack_memory import _chunk_size
from ._stack_predict import _columns, _stacked_state


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


def fit_stacked(
    members: list, X, y, plans, *, on_epoch=None, on_epoch_end=None, numbers=None
) -> list:
    """Prepare each member as its fit would, then train them in stacks of one shape.

    Members are prepared one at a time and trained as soon as a chunk of one shape is
    full, so the rows and modules of at most one chunk per shape are in memory at once.
    ``on_epoch_end(positions, members)``, after each epoch of a stack, gets the positions
    in ``members`` of those still training and returns the positions to stop there.
    ``numbers`` are the members' numbers in the whole fit, for their printed epochs.
    """
    numbers = range(len(members)) if numbers is None else numbers
    numbers = {id(member): n for member, n in zip(members, numbers, strict=True)}
    if on_epoch_end is not None:
        positions = {id(member): i for i, member in enumerate(members)}
        hook = on_epoch_end

        def on_epoch_end(stack_members: list) -> set[int]:
            where = [positions[id(member)] for member in stack_members]
            stop = set(hook(where, stack_members) or ())
            return {k for k, position in enumerate(where) if position in stop}

    # One float32 copy at most; torch will not wrap a read-only array (joblib's memmaps).
    X = as_float32(check_array(X, dtype=(np.float32, np.float64), input_name="X"))
    X = np.require(X, requirements=["C_CONTIGUOUS", "WRITEABLE"])
    X_host = torch.from_numpy(X)
    chunks, limits = {}, {}  # by shape: the members waiting, and how many fit at once
    shared = SharedTargets(len(X))
    try:
        for member, plan in zip(members, plans, strict=True):
            prepared = _prepare(member, X, y, plan)
            rows = prepared[0]
            shared.take(rows.train)
            shared.take(rows.valid)
            # Members train in lockstep: same number of rows, input and output widths.
            key = (len(rows.train.rows), member.n_features_in_, member.n_outputs_)
            key = (*key, rows.valid is None)
            if key not in limits:
                limits[key] = _chunk_size(member, rows, X_host, len(members))
            chunk = chunks.setdefault(key, [])
            chunk.append((member, prepared))
            if len(chunk) == limits[key]:
                _train_chunk(chunk, X_host, shared, on_epoch, on_epoch_end, numbers)
        for chunk in chunks.values():
            if chunk:
                _train_chunk(chunk, X_host, shared, on_epoch, on_epoch_end, numbers)
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


def _train_chunk(
    chunk: list, X: torch.Tensor, shared: SharedTargets, on_epoch, on_epoch_end, numbers: dict
):
    """Train the prepared members of ``chunk`` as one stack, and empty the chunk."""
    members = [member for member, _ in chunk]
    prepared = [member_prepared for _, member_prepared in chunk]
    chunk.clear()  # the stack takes the members' rows, and lets each go once copied
    stack = _Stack(members, prepared, X, shared)
    log = StackLog(members, [numbers[id(member)] for member in members])
    with members[0]._threads(), log.muted():
        stack.train(on_epoch, on_epoch_end, log)


def _stack_rows(rows: list, n_X: int, shared: SharedTargets, device) -> dict[str, torch.Tensor]:
    """The members' rows, targets and weights as (K, longest, ...) tensors, zero-padded
    (weights of one for members without weights). ``rows`` is emptied as it is copied, so
    each member's own arrays are let go at once. Targets the members share are one
    ``y_all`` of every row of X instead (see ``SharedTargets``)."""
    first = rows[0]
    own_targets = first.train.y is not None
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
        if own_targets:
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
            if own_targets:
                arrays[prefix + "y"][k, : len(part.rows)] = part.y
            if prefix + "weight" in arrays:
                weight = 1 if part.weight is None else part.weight
                arrays[prefix + "weight"][k, : len(part.rows)] = weight
        if member.valid is not None:
            lengths.append(len(member.valid.rows))
    data = {name: torch.from_numpy(array).to(device) for name, array in arrays.items()}
    if not own_targets:
        data["y_all"] = torch.from_numpy(shared.values).to(device)
    if lengths:
        data["valid_length"] = torch.tensor(lengths, device=device)
    return data


class _Stack:
    """K prepared members of one shape: their weights stacked, trained in lockstep."""

    def __init__(self, members: list, prepared: list[tuple], X: torch.Tensor, shared):
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
        self.data = _stack_rows(rows, len(X), shared, device)
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
    def train(self, on_epoch=None, on_epoch_end=None, log=None) -> None:
        """Run every member's epochs as its own fit's loop would, all members at once;
        ``on_epoch_end(members)`` may stop some after each epoch (their stack positions)."""
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
            if log is not None:  # the printing members' rows of this epoch, together
                log.epoch(self.members)
            if on_epoch_end is not None:  # the caller stops some (a pruned search trial)
                stopped += sorted(set(on_epoch_end(self.members)) - set(stopped))
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
            rows = data["rows"].gather(1, positions)
            y = _gather(data["y"], positions) if "y" in data else data["y_all"][rows]
            weight = data["weight"].gather(1, positions) if "weight" in data else None
            with autocast(self.first.precision, self.device):
                output = self._forward(rows, training=True)
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
            rows = data["valid_rows"][:, start:stop]
            weight = data["valid_weight"][:, start:stop] if "valid_weight" in data else None
            y = data["valid_y"][:, start:stop] if "valid_y" in data else data["y_all"][rows]
            with autocast(self.first.precision, self.device):
                output = self._forward(rows, training=False)
                loss = self._losses(output, y, weight).float()
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
            self.data = {
                name: value if name == "y_all" else value[index]
                for name, value in self.data.items()
            }
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
