"""What rules stacked training out for a net's members: its settings (optimizer, callbacks
acting on every batch, warm start...), members that differ in more than lr and the
optimizer's settings, a module ``torch.func.vmap`` cannot run."""

from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.utils import check_array
from skorch.callbacks import Callback, LRScheduler

from ..utils._private import _safe_indexing
from ..utils._torch import seeded_torch
from ._functional import vmap_blocker
from ._mlp import stacks_by_bmm

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
    if net.precision == "16-mixed":
        return (
            'precision="16-mixed" (a GradScaler skips a step for every member at once when '
            "one member's gradients overflow; bf16-mixed trains stacked)"
        )
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
