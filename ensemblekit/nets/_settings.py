"""A net's settings: stored as given (prefixed ones too), checked before any work, with
the allowed range, or the nearest valid name, in the error."""

from __future__ import annotations

import difflib
import os
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from skorch.callbacks import Callback

from ..utils._private import (
    Interval,
    Options,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)
from ..utils._torch import constructor_parameters, module_defaults
from ._precision import PRECISIONS

# Components whose constructor keywords a prefixed parameter is checked against, and the
# keywords skorch fills itself (the optimizer's parameters).
_CHECKED_PREFIXES = ("module", "criterion", "optimizer")
_NOT_USER_SET = {"optimizer": {"params"}}


def _check_callbacks(callbacks) -> None:
    """Each callback a skorch callback (an instance or a class) or a ``(name, callback)``
    pair: skorch would fail later with an AttributeError about ``set_params``."""
    for i, item in enumerate(callbacks if isinstance(callbacks, list) else []):
        callback = item[1] if isinstance(item, tuple) and len(item) == 2 else item
        is_class = isinstance(callback, type) and issubclass(callback, Callback)
        if not (is_class or isinstance(callback, Callback)):
            raise ValueError(
                f"callbacks[{i}] must be a skorch callback (an instance or a class) or a "
                f"(name, callback) pair, got {item!r}."
            )


# Names other libraries give a net's settings (scikit-learn's MLP, Keras, PyTorch scripts),
# and ours for them.
_OTHER_NAMES = {
    "learning_rate": "lr",
    "learning_rate_init": "lr",
    "epochs": "max_epochs",
    "n_epochs": "max_epochs",
    "max_iter": "max_epochs",
    "seed": "random_state",
    "hidden_layer_sizes": "module__hidden_units",
    "weight_decay": "optimizer__weight_decay",
    "alpha": "optimizer__weight_decay",
    "momentum": "optimizer__momentum",
    "loss": "criterion",
    "model": "module",
}


class _SettingsMixin:
    """Parameters of an ensemblekit net: storage, ``set_params`` and the checks."""

    def _store_params(self, params: dict, kwargs: dict) -> None:
        """Store constructor arguments verbatim (prefixed ones like ``module__x`` too)."""
        self._params_to_validate = set(kwargs)
        vars(self).update(params)
        vars(self).update(kwargs)

    def _get_param_names(self):
        return sorted(k for k in self.__dict__ if not (k.endswith("_") or k.startswith("_")))

    def get_params(self, deep: bool = True) -> dict:
        """The net's parameters; with ``deep=True`` also the module's own
        (``module__hidden_units`` and the rest), as a search or ``set_params`` takes them.

        Parameters
        ----------
        deep : bool, default=True
            Also list the callbacks' parameters and the module class's keyword arguments,
            at their defaults unless set (``module__dropout``). The ones the fit fills in
            (``n_features``, ``n_outputs``, ``random_state``) are not listed.

        Returns
        -------
        params : dict
        """
        params = super().get_params(deep=deep)
        if deep:
            for name, default in module_defaults(self.module).items():
                params.setdefault(f"module__{name}", default)
        return params

    def set_params(self, **params):
        """Set parameters; prefixed ones (``module__hidden_units``) are applied at fit.

        On a net that is not initialized yet the values are only stored, as scikit-learn
        expects (skorch would build the callbacks right away and fail on a bad value there
        rather than at fit). A fitted net re-initializes what changed, as skorch does.
        """
        self._check_prefixed(params, {**vars(self), **params})
        if self.initialized_:
            return super().set_params(**params)
        valid = set(self._get_param_names())
        for key, value in params.items():
            if "__" not in key and key not in valid:
                raise ValueError(
                    f"Invalid parameter {key!r} for {type(self).__name__}; valid parameters "
                    f"are {sorted(valid)} and prefixed ones such as module__hidden_units."
                )
            if "__" in key:
                self._params_to_validate.add(key)
            vars(self)[key] = value
        return self

    def _check_prefixed(self, params: dict, current: dict) -> None:
        """A misspelt ``module__``, ``criterion__`` or ``optimizer__`` parameter fails here,
        naming the nearest one, where skorch would fail at fit (inside a search: "All the
        fits failed"). ``current`` holds the components the names are checked against."""
        for key in params:
            prefix, _, name = key.partition("__")
            if prefix not in _CHECKED_PREFIXES or not name or "__" in name:
                continue
            if (prefix, name) == ("optimizer", "param_groups"):  # skorch's own
                continue
            accepted = constructor_parameters(current[prefix])
            if accepted is None or name in accepted:
                continue
            accepted -= _NOT_USER_SET.get(prefix, set())
            close = difflib.get_close_matches(name, accepted, n=1)
            hint = f"did you mean '{prefix}__{close[0]}'? " if close else ""
            owner = getattr(current[prefix], "__name__", type(current[prefix]).__name__)
            raise ValueError(
                f"Invalid parameter {key!r} for {type(self).__name__}: {owner} takes no "
                f"parameter {name!r}; {hint}{prefix}__ parameters of {owner} are "
                f"{sorted(f'{prefix}__{a}' for a in accepted)}."
            )

    _parameter_constraints: ClassVar[dict] = {
        "module": [callable, torch.nn.Module],
        "criterion": [callable, torch.nn.Module],
        "optimizer": [callable],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [
            Interval(Integral, 1, None, closed="left"),
            Options(Integral, {-1}),
            StrOptions({"auto"}),
        ],
        "random_state": ["random_state"],
        "n_threads": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1}), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(RealNotInt, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "callbacks": [list, StrOptions({"disable"}), None],
        "iterator_train": [callable, None],
        "predict_nonlinearity": [StrOptions({"auto"}), callable, None],
        "warm_start": ["boolean"],
        "on_interrupt": [StrOptions({"raise", "stop"})],
        "on_divergence": [StrOptions({"warn", "raise"})],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "compile": ["boolean"],
        "precision": [StrOptions(set(PRECISIONS))],
        "torch_load_kwargs": [dict, None],
    }

    def _check_unknown(self) -> None:
        """A constructor argument the net does not have fails with the name meant: one of
        its parameters, a module's (``hidden_units`` is ``module__hidden_units``), or our
        name for another library's (``learning_rate`` is ``lr``)."""
        names = set(self._parameter_constraints) | set(_OTHER_NAMES)
        module = {f"module__{name}" for name in module_defaults(self.module)}
        for key in sorted(k for k in self._params_to_validate if "__" not in k):
            if f"module__{key}" in module:
                meant = f"module__{key}"
            elif key in _OTHER_NAMES:
                meant = _OTHER_NAMES[key]
            else:
                close = difflib.get_close_matches(key, names, n=1)
                meant = _OTHER_NAMES.get(close[0], close[0]) if close else None
            hint = f"; did you mean {meant}={getattr(self, key)!r}?" if meant else "."
            raise ValueError(
                f"{type(self).__name__} has no parameter {key!r}{hint} Its parameters are "
                "in get_params(); a module's, criterion's or optimizer's take their prefix "
                "(module__hidden_units, optimizer__weight_decay)."
            )

    def _check_params(self) -> None:
        """Every parameter checked before any work, with the allowed range in the error."""
        self._check_unknown()
        params = {name: getattr(self, name) for name in self._parameter_constraints}
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=type(self).__name__
        )
        for name in ("max_epochs", "batch_size", "n_threads", "n_iter_no_change"):
            if isinstance(params[name], bool | np.bool_):  # an int to Python, not to a user
                raise ValueError(f"{name} must be an integer, got {params[name]!r}.")
        _check_callbacks(params["callbacks"])
        if (params["n_threads"] or 0) > (cores := os.cpu_count() or 1):
            raise ValueError(
                f"n_threads={params['n_threads']} is more than this machine's {cores} cores: "
                f"use at most {cores}, None for the engine's count, or -1 for torch's own choice."
            )
        self._check_prefixed(vars(self), vars(self))
        try:
            device = torch.device(self.device)
        except RuntimeError as error:
            raise ValueError(
                f"device={self.device!r} is not a torch device: {error} Use 'cpu' or 'cuda'."
            ) from error
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r}, but torch finds no CUDA device on this machine "
                "(torch.cuda.is_available() is False); use device='cpu'."
            )
