"""The memory guard of stacked training: what a stack of members takes, and how many
members fit in what the device (or the process's cgroup) has left."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ._data import MemberRows, _Rows
from ._functional import training_bytes_per_row


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
    """Bytes a row takes in a stack: its index (int32), target(s) and loss weight. Targets
    the members share (``y`` None) are kept once for every row of X, not per member."""
    weight = 0 if rows.weight is None else 4
    return 4 + (0 if rows.y is None else rows.y[:1].nbytes) + weight
