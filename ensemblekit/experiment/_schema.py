"""What the files of a run folder must hold, checked as they are read.

A run folder may come from someone else: ``show`` and ``report`` read it as data, never as
instructions. Every value is checked for the type and the size the run wrote before it is
used, so a tampered file gives an error that names it and its key, never markup in a report,
a loop over a made-up number of folds, or a traceback from deep inside matplotlib.
"""

from __future__ import annotations

import dataclasses
import math
from numbers import Integral, Real

import numpy as np

from ._analyses import ANALYSES, FITTED
from ._study import name_refusal


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
            self.fail(key, f"must be a table, got {_short(value)}.")
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
            self.fail(key, f"must be a string, got {_short(value)}.")
        return value

    def integer(self, value, key: str, low: int = 0, *, optional: bool = False):
        if value is None and optional:
            return value
        if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
            self.fail(key, f"must be an integer >= {low}, got {_short(value)}.")
        return int(value)

    def number(self, value, key: str, *, optional: bool = False, finite: bool = False):
        """A float (NaN allowed, as a fold's score may be, unless ``finite``)."""
        if value is None and optional:
            return value
        if isinstance(value, bool) or not isinstance(value, Real):
            self.fail(key, f"must be a number, got {_short(value)}.")
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
            self.fail(key, f"must be a list, got {_short(value)}.")
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
            self.fail(f"{key}.dtype", f"must be a numeric dtype, got {_short(table['dtype'])}.")
        try:
            array = np.asarray(self.list(table["array"], f"{key}.array"), dtype=dtype)
        except (TypeError, ValueError, OverflowError):
            self.fail(f"{key}.array", f"is not a regular array of {dtype} numbers.")
        if ndim is not None and array.ndim != ndim:
            self.fail(f"{key}.array", f"must have {ndim} dimensions, got {array.ndim}.")
        return array


def _short(value) -> str:
    """``value`` for an error message, cut short: a file may hold anything."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


# ------------------------------------------------------------------ study.json


def check_study(study, file) -> dict:
    """``study.json`` as a run writes it, or a :class:`RunFolderError`."""
    r = Reader(file)
    r.table(study, "")
    if study.get("format") != 1:
        found = _short(study.get("format"))
        r.fail("format", f"must be 1 (the run format this version reads), got {found}.")
    for key in ("name", "task", "engine"):
        r.string(r.get(study, key)[0], key)
    if study["task"] not in ("classification", "regression"):
        r.fail("task", f"must be 'classification' or 'regression', got {_short(study['task'])}.")
    r.integer(*r.get(study, "random_state"))
    for key in ("study_text", "source"):
        r.string(study.get(key), key, optional=True)
    r.strings(*r.get(study, "versions"))
    models = r.table(*r.get(study, "models"))
    if not models:
        r.fail("models", "names no model.")
    for i, name in enumerate(models):
        if (refusal := name_refusal(name, list(models)[:i])) is not None:
            r.fail("models", refusal)
    scorers = r.table(*r.get(study, "scorers"))
    for name, limits in scorers.items():
        for i, limit in enumerate(r.list(limits, f"scorers.{name}", 2)):
            r.number(limit, f"scorers.{name}[{i}]")
    data = r.table(*r.get(study, "data"))
    for key in ("description", "digest"):
        r.string(*r.get(data, key, "data"))
    for key in ("n_samples", "n_features"):
        r.integer(*r.get(data, key, "data"))
    classes = r.get(data, "classes", "data")[0]
    if (study["task"] == "classification") != (classes is not None):
        r.fail("data.classes", "must list the classes of a classification, and only then.")
    for i, label in enumerate(r.list(classes, "data.classes") if classes is not None else ()):
        if isinstance(label, bool) or not isinstance(label, str | int | float):
            r.fail(f"data.classes[{i}]", f"must be a label (text or number), got {_short(label)}.")
    cv = r.table(*r.get(study, "cv"))
    for key in ("description", "digest"):
        r.string(*r.get(cv, key, "cv"))
    n_splits = r.integer(*r.get(cv, "n_splits", "cv"), low=1)
    for i, seed in enumerate(r.list(r.get(study, "seeds")[0], "seeds", n_splits)):
        r.integer(seed, f"seeds[{i}]")
    folds = r.table(*r.get(study, "folds"))
    if folds.keys() != models.keys():
        r.fail("folds", "must hold one list of fingerprints per model.")
    for name, prints in folds.items():
        for i, fingerprint in enumerate(r.list(prints, f"folds.{name}", n_splits)):
            r.string(fingerprint, f"folds.{name}[{i}]")
    _check_analyses(r, study, models)
    return study


def _check_analyses(r: Reader, study: dict, models: dict) -> None:
    analyses = r.table(*r.get(study, "analyses"))
    for kind, settings in analyses.items():
        key = f"analyses.{kind}"
        if kind not in ANALYSES:
            r.fail(key, f"is not an analysis; the analyses are {sorted(ANALYSES)}.")
        analysis = ANALYSES[kind]
        if r.table(settings, key).keys() != analysis.defaults.keys():
            r.fail(key, f"must hold the settings {sorted(analysis.defaults)}.")
        for name, value in settings.items():
            kind_of = analysis.types[name]
            check = getattr(r, kind_of.rstrip("?"))
            check(value, f"{key}.{name}", **({"optional": True} if "?" in kind_of else {}))
            choices = analysis.choices.get(name)
            if choices is not None and value not in choices:
                r.fail(f"{key}.{name}", f"must be one of {list(choices)}, got {_short(value)}.")
            if name in ("confidence_level", "test_size") and not 0 < value < 1:
                r.fail(f"{key}.{name}", f"must be between 0 and 1, got {value!r}.")
            if name == "n_bins" and value < 1:
                r.fail(f"{key}.{name}", f"must be at least 1, got {value!r}.")
        if "model" in settings and settings["model"] not in models:
            r.fail(f"{key}.model", f"{_short(settings['model'])} is not a model of the study.")
    fingerprints = r.table(*r.get(study, "analysis_fingerprints"))
    for kind, fingerprint in fingerprints.items():
        if kind not in analyses:
            r.fail(f"analysis_fingerprints.{kind}", "is not an analysis of the study.")
        r.string(fingerprint, f"analysis_fingerprints.{kind}")


# ------------------------------------------------------------------ records


def check_fold_record(record, file, study: dict) -> dict:
    """A fold's record as a run writes it, sized by ``study``, or a :class:`RunFolderError`."""
    r = Reader(file)
    r.table(record, "")
    model = r.string(*r.get(record, "model"))
    fold = r.integer(*r.get(record, "fold"))
    r.string(*r.get(record, "fingerprint"))
    n_test = r.integer(*r.get(record, "n_test"))
    r.integer(*r.get(record, "n_train"))
    if model not in study["models"]:
        return record  # a model the study no longer has: never read
    if fold >= study["cv"]["n_splits"]:
        r.fail("fold", f"must be below the study's {study['cv']['n_splits']} folds, got {fold}.")
    scores = r.table(*r.get(record, "scores"))
    for scorer in study["scorers"]:
        r.number(*r.get(scores, scorer, "scores"))
    y_true, proba = r.get(record, "y_true")[0], r.get(record, "proba")[0]
    if (y_true is None) != (proba is None):
        r.fail("proba", "y_true and proba go together: both, or neither.")
    if y_true is None:
        return record
    n_classes = len(study["data"]["classes"] or ())
    r.list(y_true, "y_true", n_test)
    r.list(proba, "proba", n_test)
    if _regular(y_true, "i", (n_test,), 0, n_classes) and _regular(
        proba, "if", (n_test, n_classes)
    ):
        return record  # checked whole by numpy, in a time in proportion to the rows
    # Something is out of place: find the first entry at fault, for the message.
    for i, label in enumerate(y_true):
        if r.integer(label, f"y_true[{i}]") >= n_classes:
            r.fail(f"y_true[{i}]", f"must index the study's {n_classes} classes, got {label}.")
    for i, row in enumerate(proba):
        for j, value in enumerate(r.list(row, f"proba[{i}]", n_classes)):
            r.number(value, f"proba[{i}][{j}]")
    return record


def _regular(values: list, kinds: str, shape: tuple, low=None, high=None) -> bool:
    """Whether ``values`` (lists from JSON) make an array of numbers of ``kinds`` and
    ``shape``, within ``[low, high)`` where given."""
    if not values:  # no test rows
        return shape[0] == 0
    try:
        array = np.array(values)
    except (ValueError, TypeError):  # ragged
        return False
    if array.shape != shape or array.dtype.kind not in kinds:
        return False
    return low is None or (array.min() >= low and array.max() < high)


def check_analysis_record(record, file, study: dict):
    """An analysis's result, decoded from its record as a run writes it, or an error."""
    r = Reader(file)
    r.table(record, "")
    kind = r.string(*r.get(record, "kind"))
    if kind not in FITTED:
        r.fail("kind", f"must be one of {sorted(FITTED)}, got {_short(kind)}.")
    r.string(*r.get(record, "fingerprint"))
    r.table(*r.get(record, "settings"))
    return FITTED[kind].check_record(r.get(record, "result")[0], record, study, r)


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
