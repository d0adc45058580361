"""Stacked prediction: fitted members of one architecture answer in one batched forward
(batched matrix products for the MLP, ``torch.func.vmap`` for any other module)."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse

from ..utils._torch import tensor_versions
from ..utils._validation import as_float32
from ._data import _padded
from ._functional import VmapForward, training_bytes_per_row
from ._mlp import stacked_forward, stacks_by_bmm
from ._stack_memory import _available_memory


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


class StackedPredictor:
    """Fitted nets with their weights stacked, so that one forward pass predicts them all.

    Members of one architecture answer together (batched matrix products for the MLP,
    ``torch.func.vmap`` for any other module); a member that cannot (a custom
    nonlinearity, a module vmap cannot run) gets None, for the caller to predict on its
    own. Build it once per set of members and reuse it while :meth:`is_current` holds:
    the ensembles do, so ``predict_proba`` of 100 members costs about one batched forward.

    Parameters
    ----------
    members : list of NeuralNetClassifier or NeuralNetRegressor
        Fitted nets (of one or several architectures).
    features : list of (array of int or None)
        Each member's input columns (None: every column), as a random subspace gives them.

    Attributes
    ----------
    members : list
        The members, in the order given.
    stacks : list
        One entry per architecture: the member indices, their stacked weights, and what
        one row of the stacked forward takes in memory.

    See Also
    --------
    ensemblekit.ensemble.BaggingClassifier.predict_members : the ensembles' use of it.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.nets import NeuralNetClassifier, StackedPredictor
    >>> X, y = load_iris(return_X_y=True)
    >>> nets = [NeuralNetClassifier(max_epochs=2, random_state=s).fit(X, y) for s in (0, 1)]
    >>> predictor = StackedPredictor(nets, [None, None])
    >>> [p.shape for p in predictor(X.astype("float32"))]
    [(150, 3), (150, 3)]
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
            width = group[0].n_features_in_ if columns is None else columns.shape[1]
            try:  # what one row's forward takes, measured on zeros of its shape
                with group[0]._threads():
                    sample = torch.zeros(16, width, device=device)
                    per_row = training_bytes_per_row(module, sample)
            except Exception:  # vmap cannot run the module: its members predict one by one
                continue
            self.stacks.append([indices, params, buffers, columns, forward, per_row])

    def is_current(self, members: list) -> bool:
        """Whether these are the same members with the same weights as at construction.

        Parameters
        ----------
        members : list
            The nets to predict with now.

        Returns
        -------
        current : bool
        """
        return (
            len(members) == len(self.members)
            and all(a is b for a, b in zip(members, self.members, strict=True))
            and tensor_versions(self.tensors) == self.versions
        )

    def __call__(self, X: np.ndarray) -> list[np.ndarray | None]:
        """Each member's ``predict_proba`` (classifiers) or ``predict`` output on X.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Numeric rows, already validated by the caller (their width, their type).

        Returns
        -------
        outputs : list of (ndarray or None)
            One per member; None for a member to predict on its own.
        """
        outputs: list = [None] * len(self.members)
        if not self.stacks or sparse.issparse(X):  # sparse rows: each member densifies its batches
            return outputs
        X = np.require(as_float32(np.asarray(X)), requirements=["C_CONTIGUOUS", "WRITEABLE"])
        if not np.isfinite(X).all():
            raise ValueError("Input X contains NaN or infinity; the member nets need finite X.")
        X = torch.from_numpy(X)
        for stack in list(self.stacks):
            indices = stack[0]
            first = self.members[indices[0]]
            with first._threads(), torch.no_grad():
                out = self._predict_stack(stack, X.to(torch.device(first.device)))
            if out is None:  # vmap cannot run this module: one by one from now on
                self.stacks.remove(stack)
                continue
            members = [self.members[i] for i in indices]
            out = first._finish_prediction(finite_outputs(out.double().numpy(), *members))
            for position, index in enumerate(indices):
                outputs[index] = out[position]
        return outputs

    def _predict_stack(self, stack: list, X: torch.Tensor) -> torch.Tensor | None:
        """One stack's outputs on X (already on its device), (K, n, ...) on the host: the
        rows go through in chunks that fit the device's memory, and come back in one
        transfer; None when vmap cannot run the module."""
        indices, params, buffers, columns, forward, per_row = stack
        first, K = self.members[indices[0]], len(indices)
        size = _rows_per_chunk(torch.device(first.device), K * per_row, len(X))
        nonlinearity = first._get_predict_nonlinearity()
        # One tensor for all outputs, filled chunk by chunk: small parts kept between the
        # chunks' temporaries would fragment the heap (measured: 1.2 GB against 0.3 GB).
        result = None
        for start in range(0, max(len(X), 1), size):  # no rows: one empty chunk, its shape
            rows = X[start : start + size]
            inputs = rows.expand(K, *rows.shape) if columns is None else rows[:, columns]
            if columns is not None:
                inputs = inputs.transpose(0, 1)
            if forward is None:
                modules = [self.members[i].module_ for i in indices]
                out = stacked_forward(modules, params, buffers, inputs, training=False)
            else:
                try:
                    out = forward(params, buffers, inputs, training=False)
                except Exception:  # the members predict one by one, as their own nets do
                    return None
            out = nonlinearity(prediction_tensor(out, ndim=3))
            if result is None:
                result = out.new_empty((K, len(X), *out.shape[2:]))
            result[:, start : start + size] = out
        return result.cpu()


#: The most memory one chunk of a stacked prediction may take (its activations), by device
#: type, however much is free. On the CPU, chunks that stay near the caches are fastest:
#: measured with 100 MLPs 64-64 on 3k to 50k rows, chunks of 32 MiB predict in half the
#: time of one pass over all rows (and of chunks of 256 MiB). A GPU wants large chunks to
#: keep its cores busy; there the free memory sets the limit.
PREDICT_CHUNK_BYTES = {"cpu": 32 * 2**20, "cuda": 2**30}


#: A prediction whose activations take less goes in one chunk without asking the device
#: what is free (asking costs 0.2 ms, more than predicting 100 members on 10 rows).
SMALL_PREDICTION_BYTES = 2**24


def _rows_per_chunk(device: torch.device, bytes_per_row: int, n_rows: int) -> int:
    """Rows a stacked prediction takes at once: its activations within a quarter of the
    device's free memory and the device's ``PREDICT_CHUNK_BYTES``; at least one row."""
    if bytes_per_row * n_rows <= SMALL_PREDICTION_BYTES:
        return max(1, n_rows)
    limit = PREDICT_CHUNK_BYTES.get(device.type, PREDICT_CHUNK_BYTES["cuda"])
    budget = min(_available_memory(device) // 4, limit)
    return max(1, min(n_rows, budget // max(1, bytes_per_row)))


def prediction_tensor(output, ndim: int = 2) -> torch.Tensor:
    """The prediction a module's output carries, as a plain tensor: the first item of a
    tuple, detached from autograd, with at least ``ndim`` dimensions (rows, outputs; and
    members first when stacked). A module that returns a parameter, or a view of one (a
    constant baseline), gives a tensor that requires grad even under ``no_grad``; one that
    returns one value per row gives shape (n,), read as one output column."""
    if isinstance(output, tuple | list):
        output = output[0]
    output = output.detach()
    return output.unsqueeze(-1) if output.dim() == ndim - 1 else output


def finite_outputs(output: np.ndarray, net, *more) -> np.ndarray:
    """``output`` of ``net`` (and of the ``more`` nets stacked with it) when finite: a
    prediction is never NaN without an error, and the error says whose fault it is (the
    weights, or inputs too large for the precision)."""
    if np.isfinite(output).all():
        return output
    name = type(net).__name__
    modules = [getattr(n, "module_", None) for n in (net, *more)]
    weights = [w for m in modules if isinstance(m, torch.nn.Module) for w in m.parameters()]
    if not all(bool(torch.isfinite(w).all()) for w in weights):
        raise ValueError(
            f"{name}'s outputs are not finite: its weights hold NaN or inf (a fit that "
            "diverged, or weights loaded from elsewhere). Refit it, with a lower lr if it "
            "diverged."
        )
    if getattr(net, "precision", None) == "16-mixed":
        raise ValueError(
            f"{name}'s outputs are not finite under precision='16-mixed', though its weights "
            "are: the inputs or the activations exceed float16's range (65504). Scale the "
            "inputs, or predict in a wider type: net.set_params(precision='bf16-mixed') or "
            "'32-true'."
        )
    raise ValueError(
        f"{name}'s outputs are not finite, though its weights are: the inputs hold values "
        "too large for the net, or its module makes NaN or inf. Scale the inputs."
    )


def _predicts_stacked(member) -> bool:
    return (
        hasattr(member, "stacking_blocker")
        and isinstance(getattr(member, "module_", None), torch.nn.Module)
        and getattr(member, "predict_nonlinearity", None) == "auto"
        and not member.compile
        and getattr(member, "precision", "32-true") == "32-true"  # autocast: its own predict
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
