"""Dependencies that come with an extra: imported when used, with the fix when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

# The extra (in pyproject.toml) that installs each optional top-level package.
_EXTRAS = {"matplotlib": ("plot", "matplotlib"), "imblearn": ("imbalanced", "imbalanced-learn")}


def import_optional(name: str, purpose: str) -> ModuleType:
    """Import ``name`` (``"matplotlib.pyplot"``), or say which extra installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        extra, package = _EXTRAS[name.split(".")[0]]
        raise ImportError(
            f"{purpose} needs {package}, which is not installed. Install the '{extra}' extra: "
            f"pip install 'ensemblekit[{extra}]' (in a checkout: pip install -e '.[{extra}]')."
        ) from error


def axes_for(ax=None, **subplots):
    """``ax``, or the axes of a new figure (``plt.subplots(**subplots)``): the start of every
    display's ``plot``, which says which extra to install when matplotlib is missing."""
    plt = import_optional("matplotlib.pyplot", "Plotting")
    if ax is None:
        _, ax = plt.subplots(**subplots)
    return ax
