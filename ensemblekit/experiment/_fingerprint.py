"""What a run is made of, in words a later run compares: the models described by their
parameters, the versions of the packages, and what changed between two runs."""

from __future__ import annotations

import platform
import re
import sys

import numpy as np
from sklearn.base import BaseEstimator

from .. import __version__
from ._store import (
    digest,
)


def describe(value):
    """A JSON-able, stable description of an estimator and its parameters."""
    if isinstance(value, BaseEstimator):
        return {
            "class": _import_path(type(value)),
            "params": {k: describe(v) for k, v in sorted(value.get_params(deep=False).items())},
        }
    if isinstance(value, np.random.RandomState):
        return {"RandomState": digest(value.get_state()[1])}
    if isinstance(value, np.ndarray):
        return {"array": digest(value)}
    if isinstance(value, type) or (callable(value) and hasattr(value, "__qualname__")):
        return {"import": _import_path(value)}
    if isinstance(value, dict):
        return {str(k): describe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [describe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    return {"repr": repr(value)}


# An ensemblekit name by its private module (as runs before public paths recorded them).
_PRIVATE_PATH = re.compile(r"^(ensemblekit\.\w+)\._\w+\.(\w+)$")


def _import_path(obj) -> str:
    """Where ``obj`` is imported from: the public package for an ensemblekit name that
    package exports (so moving code between private modules changes no study)."""
    path = f"{obj.__module__}.{obj.__qualname__}"
    match = _PRIVATE_PATH.match(path)
    if match and getattr(sys.modules.get(match[1]), match[2], None) is obj:
        return f"{match[1]}.{match[2]}"
    return path


def _flat(value, prefix: str = "") -> dict:
    """A described estimator as ``{nested__name: value}``, its class under its prefix, the
    steps of a pipeline under their names (as ``get_params(deep=True)`` names them);
    ensemblekit names by their public path, whichever path a run recorded."""
    if isinstance(value, dict) and value.keys() == {"class", "params"}:
        out = {prefix or "(class)": _PRIVATE_PATH.sub(r"\1.\2", value["class"])}
        for k, v in value["params"].items():
            if _is_steps(v):  # Pipeline.steps, FeatureUnion.transformer_list
                for step, spec, *_ in v:
                    out.update(_flat(spec, f"{prefix}__{step}" if prefix else step))
            else:
                out.update(_flat(v, f"{prefix}__{k}" if prefix else k))
        return out
    if isinstance(value, dict) and value.keys() == {"import"}:
        return {prefix: {"import": _PRIVATE_PATH.sub(r"\1.\2", value["import"])}}
    return {prefix: value}


def _is_steps(value) -> bool:
    """A described list of ``(name, estimator, ...)``: a pipeline's steps ("passthrough"
    and None are steps too)."""

    def is_step(step) -> bool:
        if not (isinstance(step, list) and len(step) >= 2 and isinstance(step[0], str)):
            return False
        return step[1] is None or isinstance(step[1], str) or "class" in step[1]

    return isinstance(value, list) and bool(value) and all(map(is_step, value))


def _short(value) -> str:
    """A recorded value in a few characters: a class or function by its name."""
    if isinstance(value, dict) and value.keys() == {"import"}:
        return value["import"].rpartition(".")[2]
    if isinstance(value, str) and "." in value and " " not in value:
        return value.rpartition(".")[2]
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: At most this many parameters of a model are named in a change.
_SHOWN = 3


def _changes(old: dict, new: dict) -> list[str]:
    """What differs between the study a folder recorded and this one, in a few words each:
    ``models.one_net: neuralnetclassifier__max_epochs 5 -> 50``."""
    changes = []
    if old.get("format") != new["format"]:
        return ["it was written by another version of the run format"]
    data_changed = old["data"]["digest"] != new["data"]["digest"]
    if data_changed:
        before, after = old["data"]["description"], new["data"]["description"]
        changes.append(f"data: {before} -> {after}" if before != after else "data: other rows")
    if old["cv"]["digest"] != new["cv"]["digest"]:
        before, after = old["cv"]["description"], new["cv"]["description"]
        if before != after:
            changes.append(f"cv: {before} -> {after}")
        elif not data_changed:  # splits of other data are other splits: nothing to add
            changes.append("cv: same splitter, other splits")
    if old["random_state"] != new["random_state"]:
        changes.append(f"random_state: {old['random_state']} -> {new['random_state']}")
    if list(old["scorers"]) != list(new["scorers"]):
        changes.append(f"scoring: {list(old['scorers'])} -> {list(new['scorers'])}")
    for name, spec in new["models"].items():
        if name not in old["models"]:
            continue
        before, after = _flat(old["models"][name]), _flat(spec)
        keys = [k for k in sorted(before.keys() | after.keys()) if before.get(k) != after.get(k)]
        if keys:
            diffs = [f"{k} {_short(before.get(k))} -> {_short(after.get(k))}" for k in keys]
            more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
            changes.append(f"models.{name}: {', '.join(diffs[:_SHOWN])}{more}")
    return changes


def versions() -> dict:
    """The versions of Python and of the libraries a study's numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "ensemblekit": __version__}
    for package in ("numpy", "scipy", "scikit-learn", "torch", "skorch", "joblib"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out
