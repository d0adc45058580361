"""What makes a skorch net a scikit-learn estimator: validation, seeds, weights, a lean data path.

The classes here subclass ``skorch.NeuralNet`` and change it mostly along the seams skorch
documents as safe (``initialize_module``, ``initialize_criterion``, ``get_dataset``,
``get_split_datasets``, ``get_iterator``, ``train_step_single``, ``validation_step``,
``evaluation_step``, ``get_loss``), plus a validating wrapper around ``fit``. Where they go
beyond those seams (their constructor does not call skorch's; ``_set_training`` and
``notify`` skip work; ``_default_callbacks`` adds early stopping), the private names are
listed, with why and at what risk, in ``ensemblekit/utils/_private.py``.
"""

from __future__ import annotations

import copy
from types import MappingProxyType

import numpy as np
import torch
from scipy import sparse
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PrintLog
from skorch.utils import TeeGenerator

from ..engine import net_threads
from ..utils._fit_warnings import warn_fit
from ..utils._mixins import all_or_nothing, check_member_fit, fitting_members
from ..utils._random import draw_seeds
from ..utils._torch import seeded_torch, signature_has, torch_threads
from ..utils._validation import as_float32, check_numeric, check_sample_weight
from ._data import (
    MemberRows,
    _ArrayData,
    _collate,
    _EpochPermutations,
    _Rows,
    _SliceBatches,
    _take_rows,
)
from ._mlp import MLP
from ._pickle import dumps as pickle_with_arrays
from ._precision import as_float32 as precision_float32
from ._precision import autocast, grad_scaler
from ._prefit import adopt_prefitted
from ._settings import _SettingsMixin
from ._stack_blockers import stackable_param, stacking_blocker, startup_error
from ._stack_log import echo as _echo  # the names nets pickled before hold
from ._stack_log import quiet as _noop
from ._stack_predict import finite_outputs, prediction_tensor
from ._stacked import fit_stacked
from ._watch import DivergenceWarning, divergence, non_convergence


def _first_bad(values) -> float:
    """The first value that is not finite."""
    return next(value for value in values if not np.isfinite(value))


class NeuralNetBase(_SettingsMixin, NeuralNet):
    """Shared machinery of :class:`NeuralNetClassifier` and :class:`NeuralNetRegressor`.

    Not public: the two concrete classes list their parameters explicitly, as scikit-learn
    requires, and call :meth:`_store_params`.
    """

    # skorch sets these in __init__; scikit-learn wants __init__ to set parameters only, so
    # their "not yet fitted" values live on the class and fitting sets them on the instance.
    history_ = None
    initialized_ = False
    virtual_params_ = MappingProxyType({})
    # skorch reads these; ensemblekit fixes them (data path and splitting are its own).
    train_split = None
    dataset = None
    iterator_valid = None
    use_caching = "auto"

    # ------------------------------------------------------------------ validation
    def _train(self, data) -> None:
        """skorch's ``partial_fit`` loop, except for Ctrl-C: skorch swallows a
        ``KeyboardInterrupt`` and returns a half-trained net; here it reaches the caller
        (unless ``on_interrupt="stop"``). A callback that raises it to end training
        (``EarlyStopping``) ends training, as in skorch."""
        self.notify("on_train_begin", X=data, y=None)
        try:
            self.fit_loop(data, None)
        except KeyboardInterrupt:
            by_callback = vars(self).pop("_stopped_by_callback", False)
            if not by_callback and (self.on_interrupt == "raise" or fitting_members.get()):
                raise
        self.notify("on_train_end", X=data, y=None)

    def _validate_X(self, X, *, reset: bool) -> np.ndarray:
        check_numeric(X)
        X = validate_data(self, X, reset=reset, dtype=(np.float32, np.float64), accept_sparse="csr")
        return as_float32(X)

    def _prepare_weights(
        self, y_encoded: np.ndarray, sample_weight, y_fit: np.ndarray | None = None
    ) -> np.ndarray | None:
        """Per-row loss weights: sample_weight times class weights, scaled to mean 1.

        Class weights come from the training targets ``y_fit`` (``y_encoded`` itself when
        None), so validation rows are weighed as the training rows are.
        """
        n = len(y_encoded)
        weight = check_sample_weight(sample_weight, n)
        table = self._class_weight_table(y_encoded if y_fit is None else y_fit)
        if table is not None:
            class_weight = table[y_encoded]
            weight = class_weight if weight is None else weight * class_weight
        if weight is None:
            return None
        total = weight.sum()
        if total <= 0:
            raise ValueError("The class weights zero out every row; give some class weight > 0.")
        # Mean 1: the step size does not depend on the scale of the weights, and all-ones
        # weights train exactly as no weights.
        return (weight * (n / total)).astype(np.float32)

    def _class_weight_table(self, y_encoded: np.ndarray) -> np.ndarray | None:
        """The weight of each encoded class (None: no class weights)."""
        return None

    # ------------------------------------------------------------------ fitting
    def _fit_snapshot(self) -> dict:
        """The state a failed fit restores: a fitted net trains its objects in place (its
        module, optimizer, history, callbacks), so those are copied, together."""
        state = dict(vars(self))
        if self.initialized_:
            fitted = {name: value for name, value in state.items() if name.endswith("_")}
            state.update(copy.deepcopy(fitted))
        return state

    @all_or_nothing
    def _fit(self, X, y, sample_weight, *, partial: bool, classes=None, valid=None):
        """Validate, draw the seeds, then let skorch run its loop on our dataset.

        ``valid`` is ``(X_val, y_val, sample_weight_val)`` or None.
        """
        # Continue training (partial_fit, or fit with warm_start) only on data of the same shape.
        self._check_params()
        if not (partial or self.warm_start) and sample_weight is None and valid is None:
            if adopt_prefitted(self, X, y):  # trained already, in a stacked search
                return self
        keep = self.__sklearn_is_fitted__() and (partial or self.warm_start)
        data, torch_seed = self._begin_fit(X, y, sample_weight, reset=not keep, classes=classes)
        # partial_fit is a step of the caller's loop: its epochs are not judged converged.
        self._watch["convergence"] = not partial
        try:
            if valid is not None:
                self._valid_set = self._validation_data(data, *valid)
            # Fits in other threads wait while this one draws from torch's global generator;
            # the MLP draws from its own generators, so MLP fits need not wait.
            module = self.module if isinstance(self.module, type) else type(self.module)
            with (
                self._threads(),
                seeded_torch(torch_seed, self.device, exclusive=module is not MLP),
            ):
                if not keep:
                    self.initialize()
                self._train(data)
        finally:
            # Fit-time state only; keep it out of pickles.
            del self._shuffle
            vars(self).pop("_stopped_by_callback", None)
            vars(self).pop("_valid_set", None)
            vars(self).pop("_watch", None)
        return self

    def _begin_fit(self, X, y, sample_weight, *, reset: bool = True, classes=None):
        """Validate the data and draw this fit's seeds: what a fit does before training.

        Returns the training data (tensors on the device) and the seed of torch's global
        generator for the fit. Sets ``_seeds`` and the shuffling generator ``_shuffle``.
        """
        X, y = self._validate_Xy(X, y, reset=reset, classes=classes)
        weight = self._prepare_weights(y, sample_weight)
        self._watch = {"chance": self._chance_loss(y), "convergence": True}
        return _ArrayData(X, y, weight, device=self.device), self._draw_fit_seeds()

    def _draw_fit_seeds(self) -> int:
        """Seeds of this fit's module, shuffling, split and sampler; returns torch's seed."""
        module_seed, shuffle_seed, split_seed, torch_seed, sampler_seed = draw_seeds(
            self.random_state, 5
        )
        self._seeds = {
            "module": int(module_seed),
            "split": int(split_seed),
            "sampler": int(sampler_seed),
        }
        self._shuffle = torch.Generator().manual_seed(int(shuffle_seed))
        return int(torch_seed)

    def _validation_data(self, train: _ArrayData, X_val, y_val, sample_weight_val) -> _ArrayData:
        """The rows early stopping monitors, given by the caller (``X_val``, ``y_val``)."""
        if not self.early_stopping:
            raise ValueError(
                "X_val and y_val are only used for early stopping; set early_stopping=True "
                "or leave them out."
            )
        if X_val is None or y_val is None:
            raise ValueError("Pass both X_val and y_val, or neither.")
        X_val = self._validate_X(X_val, reset=False)
        if X_val.shape[0] != len(y_val):
            raise ValueError(
                f"X_val has {X_val.shape[0]} rows but y_val has {len(y_val)}; give one target "
                "per row."
            )
        y_val = self._encode_targets(y_val, reset=False)
        weight = self._prepare_weights(y_val, sample_weight_val, y_fit=train.y.cpu().numpy())
        return _ArrayData(X_val, y_val, weight, device=self.device)

    def _begin_member_fit(self, X: np.ndarray, y, plan) -> tuple[MemberRows, int]:
        """What ``fit(X[rows][:, features], y[rows], sample_weight)`` does before training,
        on row indices: X (float32, validated once for all members) is never copied.

        ``plan`` has ``rows``, ``features``, ``sample_weight`` and ``valid_rows`` (see
        ``ensemblekit.engine.MemberPlan``). Returns the member's rows and torch's seed.
        """
        self._check_params()
        rows = np.arange(len(X)) if plan.rows is None else np.asarray(plan.rows)
        self.n_features_in_ = X.shape[1] if plan.features is None else len(plan.features)
        y_fit = self._encode_targets(_take_rows(y, rows), reset=True)
        weight = self._prepare_weights(y_fit, plan.sample_weight)
        torch_seed = self._draw_fit_seeds()
        self._watch = {"chance": self._chance_loss(y_fit), "convergence": True}
        train = _Rows(rows, y_fit, weight)
        valid = None
        if plan.valid_rows is not None and self.early_stopping:
            y_val = self._encode_targets(_take_rows(y, plan.valid_rows), reset=False)
            weight_val = self._prepare_weights(y_val, plan.sample_weight_val, y_fit=y_fit)
            valid = _Rows(np.asarray(plan.valid_rows), y_val, weight_val)
        elif self.early_stopping:
            positions = self._split_positions(
                len(rows),
                y_fit,
                copies=_copies(X if plan.features is None else X[:, plan.features], plan.rows),
            )
            train, valid = train.take(positions[0]), train.take(positions[1])
        features = None if plan.features is None else np.asarray(plan.features)
        return MemberRows(train, valid, features), torch_seed

    # ------------------------------------------------------------------ stacked training
    def stacking_blocker(self, X, y, plans, fit_params: dict | None = None) -> str | None:
        """Why clones of this net cannot train stacked as one model on ``plans``; None if
        they can.

        The member engine asks this once, before any member trains: ``engine="auto"``
        then fits members one by one, and ``engine="vectorized"`` raises with the reason.
        Besides the settings, it tries one member's module, criterion and backward pass
        stacked on a few rows of X (a module ``torch.func.vmap`` cannot run is found here).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        plans : sequence of MemberPlan
        fit_params : dict or None, default=None
            The members' extra ``fit`` parameters.

        Returns
        -------
        reason : str or None
            In words, for a message ("the callback 'X' acts on every batch").
        """
        return stacking_blocker(self, X, y, plans, fit_params)

    @staticmethod
    def stacks_apart(name: str) -> bool:
        """Whether members trained stacked as one model may differ in the parameter
        ``name``.

        A search groups its candidates by the parameters for which this says False and
        stacks each group's candidates x folds. Stacked members may differ in the
        learning rate and the optimizer's settings (``lr``, ``optimizer__weight_decay``,
        any ``optimizer__*``), which the stacked optimizer keeps per member.

        Parameters
        ----------
        name : str
            A parameter of this net, as ``set_params`` takes it.

        Returns
        -------
        bool

        Examples
        --------
        >>> from ensemblekit.nets import NeuralNetClassifier
        >>> NeuralNetClassifier.stacks_apart("lr"), NeuralNetClassifier.stacks_apart("module")
        (True, False)
        """
        return stackable_param(name)

    def startup_error(self, X, y, plan) -> Exception | None:
        """What stops this net's fit on ``plan`` from starting; None if it starts.

        An invalid setting (``lr=-1``, ``module__dropout=1.5``, an optimizer's
        ``weight_decay=-1``) is found here before any member trains, so that a search
        leaves such a candidate to its ``error_score`` and trains the others stacked.
        Nothing is trained and the net is not changed.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        plan : MemberPlan
            The rows (and seed) a member would train on.

        Returns
        -------
        error : Exception or None
        """
        return startup_error(self, X, y, plan)

    def fit_stacked(
        self, members: list, X, y, plans, *, on_epoch=None, on_epoch_end=None, numbers=None
    ) -> list:
        """Train ``members`` (seeded clones of this net), member ``i`` on ``plans[i]``, as
        stacked models; each ends as the net its own ``fit`` on its rows would give.

        The member engine's hook. ``plans`` have ``rows``, ``features``,
        ``sample_weight`` and ``valid_rows``; ``on_epoch(fraction)`` is called with the
        share of a member's training done (summed over members) as epochs end.

        Parameters
        ----------
        members : list of nets
            Unfitted, seeded clones of this net.
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        plans : sequence of MemberPlan
        on_epoch : callable or None, default=None
        on_epoch_end : callable or None, default=None
            ``on_epoch_end(positions, members)`` is called after every epoch with the
            members still training (weights current, the epoch in their history) and
            their positions in ``members``; it returns the positions that stop there, as
            an early-stopped member does.
        numbers : list of int or None, default=None
            The members' numbers in the whole fit, which the epoch table of members with
            ``verbose=1`` shows in its ``member`` column; None numbers them from 0.

        Returns
        -------
        members : list of nets
            The same objects, fitted.
        """
        return fit_stacked(
            members, X, y, plans, on_epoch=on_epoch, on_epoch_end=on_epoch_end, numbers=numbers
        )

    def on_batch_begin(self, net, **kwargs) -> None:
        """A member whose ensemble fit was stopped (Ctrl-C, another member's error) stops
        here, at its next batch, rather than training on in a thread no one waits for."""
        super().on_batch_begin(net, **kwargs)
        check_member_fit()

    def on_train_begin(self, net, **kwargs) -> None:
        """Note where this fit's epochs start in the history (a warm start continues it)."""
        super().on_train_begin(net, **kwargs)
        if hasattr(self, "_watch"):
            self._watch["start"] = len(self.history)

    def on_epoch_end(self, net, **kwargs) -> None:
        """Stop a fit whose training loss is no longer finite, with the fix in the error:
        otherwise it would go on, and predict NaN. With ``on_divergence="raise"``, stop
        one whose loss exploded too."""
        super().on_epoch_end(net, **kwargs)
        losses = self.history[-1, "batches", :, "train_loss"] if self.history[-1]["batches"] else []
        if not np.all(np.isfinite(losses)):
            raise FloatingPointError(
                f"The training loss of {type(self).__name__} became {_first_bad(losses)} in "
                f"epoch {len(self.history)}: the fit diverged. Lower lr (now {self.lr!r}), "
                "scale the inputs, or check the targets."
            )
        if self.on_divergence == "raise":
            watch = getattr(self, "_watch", {})
            exploded = divergence(self, watch.get("start", 0), watch.get("chance"))
            if exploded is not None:
                raise FloatingPointError(exploded)

    def on_train_end(self, net, **kwargs) -> None:
        """Warn when this fit's loss exploded (:class:`DivergenceWarning`), or when it ran
        all ``max_epochs`` with its loss still improving (``ConvergenceWarning``)."""
        super().on_train_end(net, **kwargs)
        watch = vars(self).pop("_watch", None)
        if watch is None or "start" not in watch:
            return
        exploded = divergence(self, watch["start"], watch["chance"])
        if exploded is not None:
            warn_fit(self, f"{exploded} on_divergence='raise' stops such a fit.", DivergenceWarning)
        elif watch["convergence"]:
            unfinished = non_convergence(self, watch["start"])
            if unfinished is not None:
                warn_fit(self, unfinished, ConvergenceWarning)

    def _chance_loss(self, y_encoded) -> float | None:
        """The loss of a net that knows nothing (None: not known for this criterion)."""
        return None

    # ------------------------------------------------------------------ per-step overhead
    def _set_training(self, training=True):
        """As skorch's, but only when the mode changes: skorch sets it on every step."""
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, torch.nn.Module) and module.training != training:
                return super()._set_training(training)
        return None

    def notify(self, method_name, **cb_kwargs):
        """As skorch's, skipping the callbacks that leave ``method_name`` a no-op."""
        getattr(self, method_name)(self, **cb_kwargs)
        default = getattr(Callback, method_name, None)
        for _, callback in self.callbacks_:
            if getattr(type(callback), method_name, None) is not default:
                try:
                    getattr(callback, method_name)(self, **cb_kwargs)
                except KeyboardInterrupt:  # skorch's way for a callback to end training
                    self._stopped_by_callback = True
                    raise

    def _threads(self):
        """Pin torch's intra-op threads: rounding of CPU matrix products depends on them."""
        count = net_threads() if self.n_threads is None else self.n_threads
        return torch_threads(None if count == -1 else count)

    def _stratify_split(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def get_split_datasets(self, X, y=None, **fit_params):
        """The rows early stopping monitors: ``X_val``, or ``validation_fraction`` of X."""
        if not self.early_stopping:
            return X, None
        if getattr(self, "_valid_set", None) is not None:
            return X, self._valid_set
        y = None if X.y is None else X.y.cpu().numpy()
        copies = _copies(X.X.cpu().numpy()) if isinstance(X.X, torch.Tensor) else None
        train, valid = self._split_positions(len(X), y, copies=copies)
        return X.subset(train), X.subset(valid)

    def _split_positions(
        self, n: int, y: np.ndarray | None, copies: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted training and validation positions of the early-stopping split. Rows
        that are copies of one row (``copies[i]``: which, as a bootstrap draws them) fall
        on the same side: a copy in each would make the validation loss a training loss."""
        if copies is None:
            train, valid = train_test_split(
                np.arange(n),
                test_size=self.validation_fraction,
                random_state=self._seeds["split"],
                stratify=self._stratify_split(y),
            )
            return np.sort(train), np.sort(valid)
        firsts = np.unique(copies, return_index=True)[1]
        _, valid_rows = train_test_split(
            copies[firsts],
            test_size=self.validation_fraction,
            random_state=self._seeds["split"],
            stratify=self._stratify_split(None if y is None else y[firsts]),
        )
        in_valid = np.isin(copies, valid_rows)
        return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)

    def get_dataset(self, X, y=None):
        if isinstance(X, _ArrayData):
            return X
        return _ArrayData(X, y, device=self.device)

    def _rows_per_batch(self, n_rows: int, training: bool = True) -> int:
        """The rows in each mini-batch of ``n_rows``: ``batch_size``, or all of them for
        ``-1``. ``"auto"`` trains on at least 8 batches an epoch, of 16 to 128 rows, and
        predicts 128 rows at a time."""
        if self.batch_size == "auto":
            return min(128, max(16, -(-n_rows // 8))) if training else 128
        return n_rows if self.batch_size == -1 else int(self.batch_size)

    def get_iterator(self, dataset, training=False):
        batch_size = self._rows_per_batch(len(dataset), training)
        order = _EpochPermutations(len(dataset), self._shuffle if training else None)
        batches = self._batch_sampler(dataset, batch_size) if training else None
        if training and self.iterator_train is not None:
            kwargs = self.get_params_for("iterator_train")
            kwargs.setdefault("collate_fn", _collate)
            if batches is not None:
                return self.iterator_train(dataset, batch_sampler=batches, **kwargs)
            kwargs.setdefault("batch_size", batch_size)
            return self.iterator_train(dataset, sampler=order, **kwargs)
        return _SliceBatches(dataset, batch_size, order, batches)

    def _batch_sampler(self, dataset, batch_size):
        """The user's batch sampler over the training rows, seeded from random_state."""
        return None

    @property
    def _default_callbacks(self):
        # The net's verbosity picks the sink: skorch's PrintLog writes to any sink but print
        # whatever the verbosity.
        sink = _echo if self.verbose else _noop
        callbacks = [
            (name, PrintLog(sink=sink) if isinstance(callback, PrintLog) else callback)
            for name, callback in super()._default_callbacks
        ]
        if self.early_stopping:
            stopper = EarlyStopping(
                monitor="valid_loss",
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="rel",
                load_best=True,
                sink=sink,
            )
            callbacks.append(("early_stopping", stopper))
        return callbacks

    def initialize_module(self):
        """Build the module; ``n_features``/``n_outputs``/``random_state`` come from the fit."""
        kwargs = self.get_params_for("module")
        fill = {
            "n_features": getattr(self, "n_features_in_", None),
            "n_outputs": getattr(self, "n_outputs_", None)
            and self.n_outputs_ * self._outputs_per_target(),
            "random_state": getattr(self, "_seeds", {}).get("module"),
        }
        for name, value in fill.items():
            if value is not None and name not in kwargs and signature_has(self.module, name):
                kwargs[name] = value
        if isinstance(self.module, torch.nn.Module) and not kwargs:
            self.module_ = self.module
        else:
            module = type(self.module) if isinstance(self.module, torch.nn.Module) else self.module
            self.module_ = module(**kwargs)
        return self

    def _outputs_per_target(self) -> int:
        """Module outputs per target: a criterion that reads several (a mean and a spread,
        quantiles) says how many, as a number or, when it depends on the criterion's
        parameters, as a function of them."""
        per = getattr(self.criterion, "outputs_per_target", 1)
        return per(**self.get_params_for("criterion")) if callable(per) else per

    def initialize_criterion(self):
        """Build the criterion with ``reduction="none"`` so each row's loss can be weighted."""
        kwargs = self.get_params_for("criterion")
        if signature_has(self.criterion, "reduction"):
            kwargs.setdefault("reduction", "none")
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    # ------------------------------------------------------------------ steps
    def row_losses(self, y_pred, y_true) -> torch.Tensor:
        """The criterion's loss of each row (the mean over a row's outputs for wider losses).

        Shared by a plain fit and a stacked one, so both weigh rows alike.

        Parameters
        ----------
        y_pred : torch.Tensor
            The module's output for a batch.
        y_true : torch.Tensor
            The batch's targets.

        Returns
        -------
        losses : torch.Tensor of shape (batch_size,)
        """
        flat = isinstance(y_pred, torch.Tensor) and y_pred.dim() == 1
        if flat and y_true.dim() == 2 and y_true.shape[1] == 1:
            y_true = y_true[:, 0]  # a module that returns one value per row: shape (n,)
        loss = self.criterion_(y_pred, y_true)
        return loss.flatten(1).mean(1) if loss.dim() > 1 else loss

    def get_loss(self, y_pred, y_true, X=None, training=False, weight=None):
        """Mean of the per-row losses, weighted by the rows' normalised weights."""
        loss = self.row_losses(y_pred, y_true)
        if weight is not None:
            if loss.dim() != 1:
                raise ValueError(
                    "sample_weight and class_weight need per-row losses, but the criterion "
                    f"{type(self.criterion_).__name__} returned a scalar. Give it a "
                    "`reduction` argument or drop the weights."
                )
            loss = loss * weight
        return loss.mean()

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        Xi, yi, wi = batch
        with autocast(self.precision, self.device):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=True, weight=wi)
        scaler = getattr(self, "grad_scaler_", None)
        (loss if scaler is None else scaler.scale(loss)).backward()
        return {"loss": loss, "y_pred": y_pred}

    def train_step(self, batch, **fit_params):
        """skorch's step; with ``precision="16-mixed"``, the GradScaler's: the loss scaled
        for the backward pass, the gradients unscaled before callbacks see them, and a step
        skipped (the scale lowered) when they overflowed."""
        scaler = getattr(self, "grad_scaler_", None)
        if scaler is None:
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        optimizers = [getattr(self, name + "_") for name in self._optimizers]
        for optimizer in optimizers:
            scaler.unscale_(optimizer)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        for optimizer in optimizers:
            scaler.step(optimizer)
        scaler.update()
        return step

    def initialize_optimizer(self, *args, **kwargs):
        super().initialize_optimizer(*args, **kwargs)
        self.grad_scaler_ = grad_scaler(self.precision, self.device)
        return self

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        Xi, yi, wi = batch
        with torch.no_grad(), autocast(self.precision, self.device):
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False, weight=wi)
        return {"loss": loss, "y_pred": y_pred}

    def evaluation_step(self, batch, training=False):
        self.check_is_fitted()
        with torch.set_grad_enabled(training), autocast(self.precision, self.device):
            self._set_training(training)
            return precision_float32(self.infer(batch[0]))

    # ------------------------------------------------------------------ prediction
    def _forward_numpy(self, X, nonlinearity=None) -> np.ndarray:
        """Validated X through the module in eval mode, then ``nonlinearity`` (the
        net's prediction nonlinearity if None); float64 numpy on the CPU."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        with self._threads():
            outputs = [
                prediction_tensor(y)
                for y in self.forward_iter(_ArrayData(X, device=self.device), device="cpu")
            ]
        nonlinearity = nonlinearity or self._get_predict_nonlinearity()
        return finite_outputs(nonlinearity(torch.cat(outputs)).double().numpy(), self)

    def __getstate__(self):
        """skorch's state, with the torch objects of a CPU net pickled with their tensors
        as numpy arrays (see ``_pickle``); skorch's own ``__setstate__`` reads both."""
        if self.device is None or torch.device(self.device).type != "cpu":
            return super().__getstate__()
        state = self.__dict__.copy()
        prefixes = tuple(self.cuda_dependent_attributes_)
        torch_objects = {
            key: state.pop(key)
            for key in list(state)
            if isinstance(key, str) and key.startswith(prefixes)
        }
        state["__cuda_dependent_attributes__"] = pickle_with_arrays(torch_objects)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return bool(self.initialized_) and hasattr(self, "n_features_in_")


def _copies(X, rows=None) -> np.ndarray | None:
    """A label per training row (``X[rows]``, or X), equal for rows of equal values, as a
    bootstrap draws them; None when every row is distinct. Labels follow the rows' values,
    so a member trained on ``X[rows]`` and one trained on rows of X split alike."""
    if sparse.issparse(X) or np.ndim(X) != 2 or not len(X):
        return None
    X = np.ascontiguousarray(X)
    labels = np.unique(X.view(f"V{X.itemsize * X.shape[1]}"), return_inverse=True)[1].ravel()
    if rows is not None:
        labels = labels[np.asarray(rows)]
    return labels if len(np.unique(labels)) < len(labels) else None
