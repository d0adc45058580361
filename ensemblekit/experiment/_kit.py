"""The kit the study analyses are written with: figures, a result's JSON form and its
checked reading back, scorers, and the checks of a study file's settings.

It imports no registry and nothing that reads one, so an analysis plug-in
(``_analyses/``) imports only this module (and the packages below ``experiment``), and
the modules that read the registry (``_study``, ``_schema``, ``_report``) sit above both.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import math
from numbers import Integral, Real

import numpy as np

from ..metrics import resolve_scoring, scorer_names
from ..utils._optional import import_optional
from ._checker import Checker, StudyError, _hint

__all__ = [
    "Checker",
    "Reader",
    "RunFolderError",
    "StudyError",
    "check_scoring",
    "decode",
    "encode",
    "figure",
    "hint",
    "pyplot",
    "short",
]

hint = _hint


class RunFolderError(ValueError):
    """A file of a run folder that does not hold what a run writes: the file, the key, why.

    Raised by :func:`load_run` (and so by ``ensemblekit show`` and ``report``) for a file
    that is not JSON, a value of the wrong type or size, or a path that is a symbolic link;
    and by :meth:`Experiment.run` for a folder it will not write into.

    Parameters
    ----------
    file : str
        The file (or folder) at fault.
    message : str
        What is wrong with it.
    key : str, default=""
        The dotted key at fault inside the file.

    Attributes
    ----------
    file, message, key
        As given.

    See Also
    --------
    load_run : reads a run folder.
    StudyError : a study that cannot run.

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> from ensemblekit.experiment import RunFolderError, load_run
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     _ = pathlib.Path(run_dir, "study.json").write_text('{"format": 1, "name": 7}')
    ...     try:
    ...         load_run(run_dir)
    ...     except RunFolderError as error:
    ...         print(error.key, "-", error.message)
    name - must be a string, got 7.
    """

    def __init__(self, file, message: str, key: str = ""):
        self.file, self.message, self.key = str(file), message, key
        super().__init__(f"{self.file}: {key + ': ' if key else ''}{message}")


class Reader:
    """Checks the values of one file as its keys are read, failing with the file's name."""

    def __init__(self, file):
        self.file = file

    def fail(self, key: str, message: str):
        raise RunFolderError(self.file, message, key)

    def table(self, value, key: str) -> dict:
        if not isinstance(value, dict):
            self.fail(key, f"must be a table, got {short(value)}.")
        return value

    def get(self, table: dict, name: str, key: str = ""):
        full = f"{key}.{name}" if key else name
        if name not in table:
            self.fail(full, "is missing.")
        return table[name], full

    def string(self, value, key: str, *, optional: bool = False):
        if value is None and optional:
            return value
        if not isinstance(value, str):
            self.fail(key, f"must be a string, got {short(value)}.")
        return value

    def boolean(self, value, key: str, *, optional: bool = False):
        if value is None and optional:
            return value
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, got {short(value)}.")
        return value

    def integer(self, value, key: str, low: int = 0, *, optional: bool = False):
        if value is None and optional:
            return value
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            self.fail(key, f"must be an integer >= {low}, got {short(value)}.")
        return int(value)

    def number(self, value, key: str, *, optional: bool = False, finite: bool = False):
        """A float (NaN allowed, as a fold's score may be, unless ``finite``)."""
        if value is None and optional:
            return value
        if isinstance(value, bool) or not isinstance(value, Real):
            self.fail(key, f"must be a number, got {short(value)}.")
        if finite and not math.isfinite(value):
            self.fail(key, f"must be a finite number, got {value!r}.")
        return float(value)

    def strings(self, value, key: str) -> dict:
        """A table of strings to strings."""
        for name, item in self.table(value, key).items():
            self.string(item, f"{key}.{name}")
        return value

    def list(self, value, key: str, length: int | None = None, *, optional: bool = False):
        if value is None and optional:
            return value
        if not isinstance(value, list):
            self.fail(key, f"must be a list, got {short(value)}.")
        if length is not None and len(value) != length:
            self.fail(key, f"must have {length} entries (one per fold), got {len(value)}.")
        return value

    def array(self, value, key: str, ndim: int | None = None) -> np.ndarray:
        """An array ``encode`` wrote: ``{"array": [...], "dtype": ...}``, numeric."""
        table = self.table(value, key)
        if table.keys() != {"array", "dtype"}:
            self.fail(key, "must be an array as a run writes it: {'array': [...], 'dtype': ...}.")
        try:
            dtype = np.dtype(table["dtype"])
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in "biuf":
            self.fail(f"{key}.dtype", f"must be a numeric dtype, got {short(table['dtype'])}.")
        try:
            array = np.asarray(self.list(table["array"], f"{key}.array"), dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{key}.array", f"is not a regular array of {dtype} numbers.")
        if ndim is not None and array.ndim != ndim:
            self.fail(f"{key}.array", f"must have {ndim} dimensions, got {array.ndim}.")
        return array


def short(value) -> str:
    """``value`` for an error message, cut short: a file may hold anything."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def decode(cls, fields, r: Reader | None = None, key: str = "result"):
    """The result ``encode`` wrote, as an instance of the dataclass ``cls``, each field
    checked for the type its annotation names."""
    r = r or Reader("a result")
    names = {f.name: f.type for f in dataclasses.fields(cls)}
    if r.table(fields, key).keys() != names.keys():
        r.fail(key, f"must hold the fields of {cls.__name__}: {sorted(names)}.")
    values = {}
    for name, annotation in names.items():
        value, full = fields[name], f"{key}.{name}"
        optional = "None" in str(annotation)
        if value is None and optional:
            values[name] = None
        elif "ndarray" in str(annotation):
            values[name] = r.array(value, full)
        elif "float" in str(annotation):
            values[name] = r.number(value, full)
        elif "int" in str(annotation):
            values[name] = r.integer(value, full)
        elif "str" in str(annotation):
            values[name] = r.string(value, full)
        else:  # a table of parameters: shown escaped, as JSON gives it
            values[name] = r.table(value, full)
    return cls(**values)


def encode(value):
    """JSON-able form of a result: arrays as ``{"array": [...], "dtype": ...}``."""
    if dataclasses.is_dataclass(value):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    return value


def pyplot():
    """matplotlib's pyplot, or an error that names the ``plot`` extra."""
    return import_optional("matplotlib.pyplot", "The HTML report")


def figure(fig) -> str:
    """A matplotlib figure as base64 PNG, for an ``<img>`` in the page."""
    plt = pyplot()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def check_scoring(scoring, classifier: bool, checker: Checker, path=("scoring",)) -> dict:
    """Scorer name -> what ``check_scoring`` takes (the name, or ensemblekit's scorer)."""
    if scoring is None:
        scoring = ["accuracy"] if classifier else ["r2"]
    if isinstance(scoring, str):
        scoring = [scoring]
    if not isinstance(scoring, list | tuple) or not scoring:
        checker.fail(path, f"must be a scorer name or a list of them, got {scoring!r}.")
    known = scorer_names()
    out = {}
    for i, name in enumerate(scoring):
        if not isinstance(name, str) or name not in known:
            checker.fail(
                (*path, i),
                f"{name!r} is not a scorer name; {_hint(name, known)} The names are in "
                "sklearn.metrics.get_scorer_names() and ensemblekit.metrics.scorers.",
            )
        out[name] = resolve_scoring(name)
    return out
