"""What a study file may name, and what only the person running it can allow.

A study file names classes and functions by import path, and building what it names runs
their code. So, by default, a file names only things of the kind its place expects
(estimators, torch and skorch settings, splitters, data loaders) from the packages of the
field, checked on the imported object before anything is called; anything else needs the
trust of whoever runs the study (``--trust MODULE``), never of the file itself.
"""

from __future__ import annotations

import inspect
import re

from sklearn.base import BaseEstimator

#: The packages a study file may name things from without ``--trust``, by import name.
KNOWN_PACKAGES = ("ensemblekit", "sklearn", "torch", "skorch", "imblearn")
TRUST_RULE = (
    "a study file names only estimators, torch modules, losses, optimizers and schedulers, "
    "skorch callbacks, splitters and sklearn.datasets loaders from ensemblekit, "
    "scikit-learn, torch, skorch and imbalanced-learn, since building what it names runs "
    "that code."
)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LOADER = re.compile(r"(load|make|fetch)_\w+")


def check_trust(trust) -> tuple[str, ...]:
    """The modules the person running a study trusts, as a tuple of dotted names."""
    trust = (trust,) if isinstance(trust, str) else tuple(trust or ())
    for module in trust:
        if not isinstance(module, str) or not _DOTTED.fullmatch(module):
            raise ValueError(
                f"trust takes module names such as 'mymodels' or 'mylab.nets' (a package "
                f"trusts its submodules), got {module!r}."
            )
    return trust


def within(module: str, packages) -> bool:
    """Whether ``module`` is one of ``packages`` or a submodule of one."""
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def trust_hint(module_name: str) -> str:
    top = module_name.split(".")[0]
    return (
        f"If you trust the module, name it when you run the study: ensemblekit run "
        f"STUDY.toml --trust {top} (Experiment.from_toml(path, trust=[{top!r}]))."
    )


def _kinds(place: str) -> dict:
    """What ``place`` ("model", "setting" or "loader") of a study may name without trust:
    each kind in words, and its test of the imported object."""
    import sklearn.datasets
    import skorch.callbacks
    import skorch.dataset
    import torch
    from sklearn.gaussian_process.kernels import Kernel
    from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit

    def subclass(*bases):
        return lambda obj: inspect.isclass(obj) and issubclass(obj, bases)

    estimator = {"a scikit-learn estimator": subclass(BaseEstimator)}
    if place == "model":
        return estimator
    if place == "loader":
        return {
            "a load_*, make_* or fetch_* function of sklearn.datasets": lambda obj: bool(
                _LOADER.fullmatch(getattr(obj, "__name__", ""))
                and getattr(sklearn.datasets, obj.__name__, None) is obj
            )
        }
    schedulers = torch.optim.lr_scheduler
    return {
        **estimator,
        "a torch module or loss": subclass(torch.nn.Module),
        "a torch optimizer": subclass(torch.optim.Optimizer),
        "a learning-rate scheduler": subclass(schedulers.LRScheduler, schedulers.ReduceLROnPlateau),
        "a skorch callback": subclass(skorch.callbacks.Callback),
        "a splitter": subclass(BaseCrossValidator, BaseShuffleSplit, skorch.dataset.ValidSplit),
        "a torch dataset, sampler or data loader": subclass(
            torch.utils.data.Dataset, torch.utils.data.Sampler, torch.utils.data.DataLoader
        ),
        "a Gaussian-process kernel": subclass(Kernel),
    }


def kind_refusal(obj, place: str) -> str | None:
    """Why a study file may not name ``obj`` at ``place`` without trust (None: it may).

    The object must be defined in one of :data:`KNOWN_PACKAGES` and be of a kind the
    place takes: an estimator class for a model or a pipeline step; for a model's
    parameters also a torch module, loss, optimizer or scheduler, a skorch callback, a
    splitter, a torch data class or a kernel; for ``[data] loader``, a ``load_*``,
    ``make_*`` or ``fetch_*`` function of ``sklearn.datasets``. Nothing is called.
    """
    kinds = _kinds(place)
    owner = getattr(obj, "__module__", None) or ""
    if within(owner, KNOWN_PACKAGES) and any(test(obj) for test in kinds.values()):
        return None
    what = (
        f"the class {obj.__name__}"
        if inspect.isclass(obj)
        else f"the module {obj.__name__}"
        if inspect.ismodule(obj)
        else f"the function {getattr(obj, '__name__', '?')}"
        if callable(obj)
        else f"a {type(obj).__name__}"
    )
    where = "" if within(owner, KNOWN_PACKAGES) else f" of {owner or 'no module'!r}"
    return f"is {what}{where}, not {' or '.join(kinds)}:"
