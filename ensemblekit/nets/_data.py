"""The nets' lean data path: arrays as tensors on the device once per fit, batches as
slices of them (sparse rows densified a batch at a time), epochs as seeded permutations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse


class _SparseRows:
    """A CSR matrix whose rows come out as dense tensors on ``device``, a batch at a time:
    the whole matrix is never densified (text features can be wide)."""

    def __init__(self, X, device):
        self.csr, self.device = X, torch.device(device)

    def __len__(self) -> int:
        return self.csr.shape[0]

    def __getitem__(self, index):
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        dense = self.csr[index].toarray()
        one = isinstance(index, int | np.integer)
        return torch.as_tensor(dense[0] if one else dense, device=self.device)

    def rows(self, index) -> _SparseRows:
        """The rows at ``index``, still sparse."""
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        return _SparseRows(self.csr[index], self.device)


class _ArrayData(torch.utils.data.Dataset):
    """In-memory X, y and per-row loss weights, moved to the net's device once per fit.

    Batches are ``(X, y, weight)`` tuples; ``y`` and ``weight`` may be None. As a torch
    ``Dataset`` it also feeds a user's ``DataLoader`` (``iterator_train=DataLoader``). A
    sparse X stays sparse on the CPU, and each batch's rows are densified as it is taken.
    """

    def __init__(self, X, y=None, weight=None, device="cpu"):
        self.X = _SparseRows(X, device) if sparse.issparse(X) else _to_tensor(X, device)
        self.y = None if y is None else _to_tensor(y, device)
        self.weight = None if weight is None else _to_tensor(weight, device)

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index):
        return self.X[index], _take(self.y, index), _take(self.weight, index)

    def subset(self, index: np.ndarray) -> _ArrayData:
        index = torch.as_tensor(index, device=self.X.device)
        out = _ArrayData.__new__(_ArrayData)
        X = self.X.rows(index) if isinstance(self.X, _SparseRows) else self.X[index]
        out.X, out.y, out.weight = X, _take(self.y, index), _take(self.weight, index)
        return out


def _to_tensor(array: np.ndarray, device) -> torch.Tensor:
    """A tensor sharing the array's memory where torch may: read-only arrays (joblib's
    memmaps in workers) are copied, as torch will not wrap them."""
    if isinstance(array, np.ndarray) and not array.flags.writeable:
        array = array.copy()
    return torch.as_tensor(array, device=device)


def _take(tensor, index):
    return None if tensor is None else tensor[index]


def _collate(rows):
    """Stack ``(X, y, weight)`` rows from a DataLoader, keeping absent parts as None."""
    return tuple(None if part[0] is None else torch.stack(part) for part in zip(*rows, strict=True))


class _EpochPermutations(torch.utils.data.Sampler):
    """One ``randperm`` per epoch from the net's generator; shared by both data paths."""

    def __init__(self, n: int, generator: torch.Generator | None):
        self.n, self.generator = n, generator

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        index = self.indices()
        return iter(range(self.n) if index is None else index.tolist())

    def indices(self) -> torch.Tensor | None:
        """This epoch's row order; None keeps the rows in place (prediction)."""
        if self.generator is None:
            return None
        return torch.randperm(self.n, generator=self.generator)


class _SliceBatches:
    """Batches as index slices of tensors already on the device: no per-row collate.

    ``batches``, an iterable of index lists (a batch sampler), replaces the epoch order.
    """

    def __init__(self, data: _ArrayData, batch_size: int, order: _EpochPermutations, batches=None):
        self.data, self.batch_size, self.order, self.batches = data, batch_size, order, batches

    def __len__(self) -> int:
        if self.batches is not None:
            return len(self.batches)
        return -(-len(self.data) // self.batch_size)

    def __iter__(self):
        if self.batches is not None:
            for rows in self.batches:
                yield self.data[torch.as_tensor(rows, device=self.data.X.device)]
            return
        index = self.order.indices()
        if index is not None:
            index = index.to(self.data.X.device)
        for start in range(0, len(self.data), self.batch_size):
            stop = start + self.batch_size
            # Unshuffled batches are views (a plain slice); shuffled ones gather rows.
            yield self.data[slice(start, stop) if index is None else index[start:stop]]


@dataclass
class _Rows:
    """Rows of one member as indices into X, with their encoded targets and loss weights."""

    rows: np.ndarray
    y: np.ndarray | None  # None: the stack's shared targets at ``rows`` (see SharedTargets)
    weight: np.ndarray | None

    def __post_init__(self):
        # Encoded class labels as int32: half the memory of int64 while members wait.
        if self.y is not None and self.y.dtype.kind in "iu" and self.y.dtype != np.int32:
            self.y = self.y.astype(np.int32)

    def take(self, positions: np.ndarray) -> _Rows:
        weight = None if self.weight is None else self.weight[positions]
        return _Rows(self.rows[positions], self.y[positions], weight)


class SharedTargets:
    """The encoded targets of every row of X, kept once for all members of a stacked fit.

    Members that encode y the same way (an ensemble's members share its classes) hand
    theirs over as they are prepared and keep only their row indices: K members on n rows
    then hold n targets, not K x n. A member whose targets differ at a row another member
    gave stops the sharing, and every member gets its own targets back, exactly.
    """

    def __init__(self, n_rows: int):
        self.n_rows = n_rows
        self.values: np.ndarray | None = None
        self.given: np.ndarray | None = None
        self.members: list[_Rows] = []
        self.active = True

    def take(self, part: _Rows | None) -> None:
        """Keep ``part``'s targets here, or give every member its own if they differ."""
        if part is None or not self.active:
            return
        if self.values is None:
            self.values = np.zeros((self.n_rows, *part.y.shape[1:]), dtype=part.y.dtype)
            self.given = np.zeros(self.n_rows, dtype=bool)
        known = self.given[part.rows]
        if (
            part.y.dtype != self.values.dtype
            or part.y.shape[1:] != self.values.shape[1:]
            or not np.array_equal(self.values[part.rows][known], part.y[known])
        ):
            self.stop()
            return
        self.values[part.rows] = part.y
        self.given[part.rows] = True
        part.y = None
        self.members.append(part)

    def stop(self) -> None:
        """Every member its own targets again (those it handed over, as they were)."""
        for part in self.members:
            part.y = self.values[part.rows]
        self.members, self.values, self.given, self.active = [], None, None, False


@dataclass
class MemberRows:
    """What one member trains on (and early stopping monitors), and its columns."""

    train: _Rows
    valid: _Rows | None
    features: np.ndarray | None


def _take_rows(y, rows) -> np.ndarray:
    return np.asarray(y)[np.asarray(rows)]


def _padded(parts: list[np.ndarray], device, dtype=None) -> torch.Tensor:
    """Arrays of different lengths as one (K, longest, ...) tensor, zero-padded."""
    longest = max(len(part) for part in parts)
    shape = (len(parts), longest, *parts[0].shape[1:])
    out = np.zeros(shape, dtype=parts[0].dtype if dtype is None else dtype)
    for k, part in enumerate(parts):
        out[k, : len(part)] = part
    return torch.from_numpy(out).to(device)
