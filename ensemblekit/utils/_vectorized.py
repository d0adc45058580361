"""The member engine's vectorized pass: K nets of one MLP architecture trained as one model.

Each member is prepared exactly as its own ``fit`` would prepare it (validation, seeds,
weight initialisation, loss weights, shuffling generator), then the K sets of weights are
stacked into ``(K, ...)`` tensors and trained together: ``baddbmm`` over the stacked
weights, each member on its own rows and feature subset, with its own epoch permutations,
dropout masks (drawn from its module's generator), BatchNorm statistics and loss. The
optimizer sees the stacked tensors; the supported optimizers update every element from its
own gradient and state only, so each member gets exactly the steps it would get alone.
Afterwards the weights go back into the members, which are ordinary fitted nets.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils import _safe_indexing
from torch import nn

from ._random import set_random_states
from ._torch import seeded_torch

# Optimizers whose update of an element depends only on that element's gradient and state.
ELEMENTWISE_OPTIMIZERS = (
    torch.optim.SGD,
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
)


def vectorize_blocker(estimator, fit_params: dict | None = None) -> str | None:
    """Why members cloned from ``estimator`` cannot be trained as one model (None: they can)."""
    from ..nets import MLP, NeuralNetClassifier, NeuralNetRegressor

    if type(estimator) not in (NeuralNetClassifier, NeuralNetRegressor):
        return f"the members are {type(estimator).__name__}, not ensemblekit's nets"
    if estimator.module is not MLP:
        return "the net's module is not ensemblekit's MLP class"
    if not isinstance(estimator.get_params().get("module__activation", "relu"), str):
        return "the MLP's activation is a callable"
    expected = nn.CrossEntropyLoss if isinstance(estimator, NeuralNetClassifier) else nn.MSELoss
    if estimator.criterion is not expected or estimator.get_params_for("criterion"):
        return f"the criterion is not the default {expected.__name__}"
    if estimator.optimizer not in ELEMENTWISE_OPTIMIZERS:
        name = getattr(estimator.optimizer, "__name__", estimator.optimizer)
        return f"the optimizer {name!r} is not one of SGD, Adam, AdamW, RMSprop, Adagrad"
    if estimator.callbacks not in (None, []):
        return "the net has callbacks"
    if estimator.early_stopping:
        return "the net uses early stopping"
    if estimator.iterator_train is not None or getattr(estimator, "batch_sampler", None):
        return "the net has its own training iterator or batch sampler"
    if estimator.warm_start:
        return "the net has warm_start=True"
    if fit_params:
        return "fit parameters are passed to the members"
    return None


def fit_vectorized(estimator, X, y, plans, *, only_unset: bool, verbose: int = 0) -> list:
    """Fit one member per plan as ``_fit_member`` would, training members as stacked models.

    Members are grouped by what must be equal to stack them (number of rows, input width,
    output width) and each group is split into chunks that fit in the device's memory.
    """
    members, datasets = [], []
    for plan in plans:
        member = set_random_states(clone(estimator), plan.seed, only_unset=only_unset)
        X_m, y_m = X, y
        if plan.rows is not None:
            X_m, y_m = _safe_indexing(X, plan.rows), _safe_indexing(y, plan.rows)
        if plan.features is not None:
            X_m = _safe_indexing(X_m, plan.features, axis=1)
        data, torch_seed = member._begin_fit(X_m, y_m, plan.sample_weight)
        with member._threads(), seeded_torch(torch_seed, member.device):
            member.initialize()
        members.append(member)
        # Members' data waits in host memory; only the chunk being trained is on the device.
        datasets.append(_on_host(data))
    groups = defaultdict(list)
    for index, (member, data) in enumerate(zip(members, datasets, strict=True)):
        groups[len(data), member.n_features_in_, member.n_outputs_].append(index)
    progress = None
    if verbose:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(plans), desc="fitting members (vectorized)")
    for indices in groups.values():
        size = _chunk_size(members[indices[0]], datasets[indices[0]])
        for start in range(0, len(indices), size):
            chunk = indices[start : start + size]
            _train_stacked([members[i] for i in chunk], [datasets[i] for i in chunk])
            if progress is not None:
                progress.update(len(chunk))
    if progress is not None:
        progress.close()
    for member in members:
        del member._shuffle
    return members


def _on_host(data):
    for name in ("X", "y", "weight"):
        tensor = getattr(data, name)
        if tensor is not None and tensor.device.type != "cpu":
            setattr(data, name, tensor.cpu())
    return data


def _available_memory(device: torch.device) -> int:
    """Bytes free on ``device`` (a module-level function, so tests can shrink it)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def _chunk_size(member, data) -> int:
    """How many members of this shape fit in half the free memory of the device at once."""
    n_params = sum(p.numel() for p in member.module_.parameters())
    widths = sum(
        layer.out_features for layer in member.module_.layers if isinstance(layer, nn.Linear)
    )
    batch = len(data) if member.batch_size == -1 else min(int(member.batch_size), len(data))
    row = data.X[:1].numel() + (1 if data.y is None else data.y[:1].numel()) + 1
    # Weights, gradients and two optimizer states; data; activations kept for backward.
    per_member = 4 * (4 * n_params + len(data) * row + 4 * batch * widths)
    budget = _available_memory(torch.device(member.device)) // 2
    return max(1, int(budget // max(per_member, 1)))


def _record_epoch(members, losses: list[list[float]], sizes: list[int], start_time) -> None:
    """Each member's history gets what skorch records for an epoch of its own fit."""
    duration = (time.perf_counter() - start_time) / len(members)
    for member, member_losses in zip(members, losses, strict=True):
        history = member.history
        history.new_epoch()
        history.record("epoch", len(history))
        history[-1]["batches"] = [
            {"train_loss": loss, "train_batch_size": size}
            for loss, size in zip(member_losses, sizes, strict=True)
        ]
        history.record("train_batch_count", len(sizes))
        history.record("train_loss", float(np.average(member_losses, weights=sizes)))
        history.record("dur", duration)


class _StackedMLP:
    """The MLPs of K members as stacked tensors, with the forward pass of all K at once."""

    def __init__(self, modules: list[nn.Module], device):
        self.modules = modules
        self.ops, self.params = [], []
        first = modules[0]
        for position, layer in enumerate(first.layers):
            layers = [m.layers[position] for m in modules]
            if isinstance(layer, nn.Linear):
                weight = torch.stack([lay.weight.detach().T for lay in layers]).to(device)
                bias = torch.stack([lay.bias.detach()[None] for lay in layers]).to(device)
                weight.requires_grad_(True)
                bias.requires_grad_(True)
                self.params += [weight, bias]
                self.ops.append(("linear", position, weight, bias))
            elif isinstance(layer, nn.BatchNorm1d):
                gamma = torch.stack([lay.weight.detach()[None] for lay in layers]).to(device)
                beta = torch.stack([lay.bias.detach()[None] for lay in layers]).to(device)
                gamma.requires_grad_(True)
                beta.requires_grad_(True)
                running = (
                    torch.stack([lay.running_mean for lay in layers]).to(device),
                    torch.stack([lay.running_var for lay in layers]).to(device),
                )
                self.params += [gamma, beta]
                self.ops.append(("batch_norm", position, (gamma, beta, running), layer))
            elif type(layer).__name__ == "_SeededDropout":
                generators = [m._generator_for(torch.device(device)) for m in modules]
                self.ops.append(("dropout", position, layer.p, generators))
            else:
                self.ops.append(("activation", position, layer, None))

    def forward(self, h: torch.Tensor, training: bool) -> torch.Tensor:
        for kind, _, a, b in self.ops:
            if kind == "linear":
                h = torch.baddbmm(b, h, a)
            elif kind == "activation":
                h = a(h)
            elif kind == "dropout":
                if training and a > 0:
                    keep = 1.0 - a
                    masks = [
                        torch.empty(h.shape[1:], device=h.device, dtype=h.dtype).bernoulli_(
                            keep, generator=g
                        )
                        for g in b
                    ]
                    h = h * torch.stack(masks) / keep
            else:
                h = self._batch_norm(h, a, b, training)
        return h

    @staticmethod
    def _batch_norm(h, state, layer: nn.BatchNorm1d, training: bool):
        gamma, beta, (running_mean, running_var) = state
        if training:
            mean = h.mean(1)
            var = h.var(1, unbiased=False)
            with torch.no_grad():
                n = h.shape[1]
                momentum = layer.momentum
                running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                unbiased = var.detach() * (n / max(n - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
        else:
            mean, var = running_mean, running_var
        h = (h - mean[:, None]) / torch.sqrt(var[:, None] + layer.eps)
        return h * gamma + beta

    def write_back(self) -> None:
        """Copy the trained weights (and BatchNorm statistics) into the members' modules."""
        with torch.no_grad():
            for k, module in enumerate(self.modules):
                for kind, position, a, b in self.ops:
                    layer = module.layers[position]
                    if kind == "linear":
                        layer.weight.copy_(a[k].T)
                        layer.bias.copy_(b[k, 0])
                    elif kind == "batch_norm":
                        gamma, beta, (running_mean, running_var) = a
                        layer.weight.copy_(gamma[k, 0])
                        layer.bias.copy_(beta[k, 0])
                        layer.running_mean.copy_(running_mean[k])
                        layer.running_var.copy_(running_var[k])
                        layer.num_batches_tracked.add_(self.n_steps)


def _train_stacked(members: list, datasets: list) -> None:
    """Train K prepared members of one shape together; their modules end up trained."""
    first = members[0]
    device = torch.device(first.device)
    n_rows, n_members = len(datasets[0]), len(members)
    classifier = hasattr(first, "classes_")
    with first._threads():
        X = torch.stack([d.X for d in datasets]).to(device)
        y = torch.stack([d.y for d in datasets]).to(device)
        weighted = any(d.weight is not None for d in datasets)
        weight = (
            torch.stack(
                [torch.ones(n_rows) if d.weight is None else d.weight for d in datasets]
            ).to(device)
            if weighted
            else None
        )
        stacked = _StackedMLP([m.module_ for m in members], device)
        kwargs = first.get_params_for("optimizer")
        kwargs.setdefault("lr", first.lr)
        # One multi-tensor kernel per update on the CPU too (torch picks it only on GPUs).
        kwargs.setdefault("foreach", True)
        optimizer = first.optimizer(stacked.params, **kwargs)
        batch_size = n_rows if first.batch_size == -1 else int(first.batch_size)
        member_index = torch.arange(n_members, device=device)[:, None]
        stacked.n_steps = 0
        for member in members:
            member.module_.train()
        for _ in range(int(first.max_epochs)):
            start_time = time.perf_counter()
            order = torch.stack([torch.randperm(n_rows, generator=m._shuffle) for m in members]).to(
                device
            )
            losses, sizes = [], []
            for start in range(0, n_rows, batch_size):
                rows = order[:, start : start + batch_size]
                Xb, yb = X[member_index, rows], y[member_index, rows]
                output = stacked.forward(Xb, training=True)
                if classifier:
                    loss = F.cross_entropy(
                        output.flatten(0, 1), yb.flatten(0, 1), reduction="none"
                    ).view(n_members, -1)
                else:
                    loss = F.mse_loss(output, yb, reduction="none").flatten(2).mean(2)
                if weight is not None:
                    loss = loss * weight[member_index, rows]
                loss = loss.mean(1)
                optimizer.zero_grad(set_to_none=True)
                loss.sum().backward()
                optimizer.step()
                stacked.n_steps += 1
                losses.append(loss.detach())
                sizes.append(rows.shape[1])
            _record_epoch(members, torch.stack(losses).T.tolist(), sizes, start_time)
        stacked.write_back()
    for member in members:
        member.module_.eval()
