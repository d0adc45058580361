"""What a study file may name, and what only the person running it can allow.

A study file names classes and functions by import path, and building what it names runs
their code. So, by default, a file names only things of the kind its place expects
(estimators, torch and skorch settings, splitters, data loaders) from the packages of the
field, checked on the imported object before anything is called; anything else needs the
trust of whoever runs the study (``--trust MODULE``), never of the file itself.

Names are not enough: what a named thing is given is checked by kind too (see
:func:`argument_refusal`), so that nothing a study builds reads a file other than its
declared data, unpickles a cache, writes outside its run folder or reaches the network.
"""

from __future__ import annotations

import inspect
import re
import sys

from sklearn.base import BaseEstimator

#: The packages a study file may name things from without ``--trust``, by import name.
KNOWN_PACKAGES = ("ensemblekit", "sklearn", "torch", "skorch", "imblearn")
TRUST_RULE = (
    "a study file names only estimators, torch modules, losses, optimizers and schedulers, "
    "skorch callbacks, splitters and sklearn.datasets load_* and make_* functions from "
    "ensemblekit, scikit-learn, torch, skorch and imbalanced-learn, since building what it "
    "names runs that code."
)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
_LOADER = re.compile(r"(load|make)_\w+")
#: The rule on what a study builds is given, as ``docs/experiment.md`` states it.
ARGUMENT_RULE = (
    "without --trust, nothing a study file names may read a file other than the data it "
    "declares, write outside the run folder, reach the network or unpickle anything"
)
#: Modules that are no library of models: trusting one lets a study file run anything.
_PROCESS_MODULES = ("joblib", "cloudpickle", "dill")
#: skorch's logging callbacks that write to the terminal only.
_QUIET_LOGS = ("PrintLog", "ProgressBar", "EpochTimer")


def check_trust(trust) -> tuple[str, ...]:
    """The modules the person running a study trusts, as a tuple of dotted names.

    A module of the standard library (``os``, ``subprocess``, ``pickle``, ``builtins``)
    or a pickler is refused: trusting it would let the file run a shell command or load
    any pickle, which no study needs.
    """
    trust = (trust,) if isinstance(trust, str) else tuple(trust or ())
    for module in trust:
        if not isinstance(module, str) or not _DOTTED.fullmatch(module):
            raise ValueError(
                f"trust takes module names such as 'mymodels' or 'mylab.nets' (a package "
                f"trusts its submodules), got {module!r}."
            )
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top in _PROCESS_MODULES:
            what = "a pickler" if top in _PROCESS_MODULES else "of Python's standard library"
            raise ValueError(
                f"trust {module!r} is refused: it is {what}, not a library of models, and "
                "trusting it would let the study file call any of its functions (os.system, "
                "subprocess.run, pickle.load) with any argument. Put what the study needs "
                "in a module of your own and trust that."
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
            "a load_* or make_* function of sklearn.datasets": lambda obj: bool(
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
    ``make_*`` function of ``sklearn.datasets`` (a ``fetch_*`` downloads and unpickles its
    cache). A torch data pipe (it opens the files its data names), a skorch callback
    that logs to a file or a service, and any class whose defaults name a file or a
    folder (``Checkpoint(dirname='')``) are refused too.
    Nothing is called.
    """
    kinds = _kinds(place)
    owner = getattr(obj, "__module__", None) or ""
    if place == "loader" and getattr(obj, "__name__", "").startswith("fetch_"):
        return f"downloads data and unpickles its cache, and {ARGUMENT_RULE}."
    if within(owner, KNOWN_PACKAGES) and any(test(obj) for test in kinds.values()):
        if within(owner, ("torch.utils.data.datapipes",)):
            return (
                f"is a torch data pipe, which lists, opens or streams files named in its "
                f"data, and {ARGUMENT_RULE}."
            )
        if owner == "skorch.callbacks.logging" and obj.__name__ not in _QUIET_LOGS:
            return (
                f"is skorch's {obj.__name__}, which logs to a file or a tracking service, and "
                f"{ARGUMENT_RULE}."
            )
        if written := io_defaults(obj):
            given = ", ".join(f"{name}={default!r}" for name, default in written)
            return f"reads or writes files where its defaults say ({given}), and {ARGUMENT_RULE}."
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


# ------------------------------------------------------------------ arguments, by kind

#: Words that make a parameter one that takes a file, a folder, a cache or an address
#: (``dirname``, ``data_home``, ``f_params``, ``memory``, ``cache_dir``, ``url``).
_IO_WORDS = frozenset(
    "f dir dirname dirpath directory folder path paths file files filename fname home "
    "cache memory url urls uri checkpoint writer logdir location root".split()
)
#: A text that is a path or an address: a separator, a home or dot start, a scheme.
_PATHLIKE = re.compile(r"[/\\]|^[~.]|^[A-Za-z][\w+.-]*://")


def io_parameter(name: str) -> bool:
    """Whether a parameter named ``name`` (the last part of ``a__b__name``) takes a file,
    a folder, a cache or an address, by its last word (``data_home``, ``container_path``,
    not ``path_method``) or an ``f_`` start (``f_history``)."""
    last = name.rsplit("__", 1)[-1].lower()
    return last.startswith("f_") or last.rsplit("_", 1)[-1] in _IO_WORDS


def _plain(value) -> bool:
    """A value that names no file: None, a flag or a number (``cache_size = 200``), or a
    list of them (a grid of ``cache_size``)."""
    if isinstance(value, list | tuple):
        return all(_plain(item) for item in value)
    return value is None or isinstance(value, bool | int | float)


def _builds(value) -> bool:
    """A table that builds a thing: its own arguments are checked as it is built."""
    return isinstance(value, dict) and bool({"class", "import", "pipeline"} & set(value))


def argument_refusal(name: str, value) -> str | None:
    """Why a study file may not pass ``value`` (as written in the file) as ``name``
    without trust (None: it may).

    A parameter whose name says it takes a file, a folder, a cache or an address
    (``dirname``, ``f_history``, ``data_home``, ``memory``, ``url``) takes only None, a
    flag or a number; and no text anywhere in an argument may be a path or an address
    (a separator, ``~`` or ``.`` first, ``scheme://``). Tables are walked with their keys
    as names, so a search's grid (``param_grid = {memory = ["cache"]}``) is held to the
    same rule. Both hold for a name no list has: the check is by the kind of argument,
    not by the class.
    """
    if io_parameter(name) and not _plain(value):
        return (
            f"{name!r} takes a file, a folder, a cache or an address ({value!r:.60}), and "
            f"{ARGUMENT_RULE}."
        )
    if _builds(value):
        return None
    if isinstance(value, dict):
        items = [(str(key), item) for key, item in value.items()]
    elif isinstance(value, list | tuple):
        items = [(name, item) for item in value]
    else:
        items = []
    for key, item in items:
        if (refusal := argument_refusal(key, item)) is not None:
            return refusal
    if isinstance(value, str) and _PATHLIKE.search(value):
        return f"{value!r:.60} is a path or an address, and {ARGUMENT_RULE}."
    return None


def io_defaults(cls) -> list[tuple[str, object]]:
    """The parameters of ``cls`` that take a file, a folder or an address and have one by
    default (skorch's ``Checkpoint(dirname='', f_params='params.pt')``): built as it
    stands, such a class reads or writes there."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        (p.name, p.default)
        for p in parameters
        if io_parameter(p.name) and p.default is not p.empty and not _plain(p.default)
    ]
