"""What a run is made of, in words a later run compares: the models described by their
parameters, the versions of the packages, and what changed between two runs."""

from __future__ import annotations

import platform
import re
import sys

import numpy as np
from sklearn.base import BaseEstimator

from .. import __version__
from ._records import (
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
    """A described estimator as ``{nested__name: value}``, its class under its prefix;
    ensemblekit names by their public path, whichever path a run recorded."""
    if isinstance(value, dict) and value.keys() == {"class", "params"}:
        out = {prefix or "(class)": _PRIVATE_PATH.sub(r"\1.\2", value["class"])}
        for k, v in value["params"].items():
            out.update(_flat(v, f"{prefix}__{k}" if prefix else k))
        return out
    if isinstance(value, dict) and value.keys() == {"import"}:
        return {prefix: {"import": _PRIVATE_PATH.sub(r"\1.\2", value["import"])}}
    return {prefix: value}


def _changes(old: dict, new: dict) -> list[str]:
    """What differs between the study a folder recorded and this one, in words."""
    changes = []
    if old.get("format") != new["format"]:
        return ["it was written by another version of the run format"]
    if old["data"]["digest"] != new["data"]["digest"]:
        changes.append(
            f"the data changed ({old['data']['description']} -> {new['data']['description']})"
        )
    if old["cv"]["digest"] != new["cv"]["digest"]:
        changes.append(
            f"the splits changed ({old['cv']['description']} -> {new['cv']['description']})"
        )
    if old["random_state"] != new["random_state"]:
        changes.append(f"random_state {old['random_state']} -> {new['random_state']}")
    if list(old["scorers"]) != list(new["scorers"]):
        changes.append(f"scoring {list(old['scorers'])} -> {list(new['scorers'])}")
    for name, spec in new["models"].items():
        before, after = _flat(old["models"].get(name)), _flat(spec)
        if name in old["models"] and before != after:
            diffs = [
                f"{key} {before.get(key)!r} -> {after.get(key)!r}"
                for key in sorted(before.keys() | after.keys())
                if before.get(key) != after.get(key)
            ]
            changes.append(f"model {name!r} changed ({', '.join(diffs[:4])})")
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
