"""A study's data (a bundled dataset, a file, or a function) and its splitter, by name."""

from __future__ import annotations

import csv
import inspect
from pathlib import Path

import numpy as np
import sklearn.datasets
import sklearn.model_selection

from ._checker import Checker, _hint
from ._study import check_arguments, import_object

#: Datasets that ship with scikit-learn, by the name a study gives them.
BUNDLED = ("iris", "digits", "wine", "breast_cancer", "diabetes")
_GENERATORS = tuple(n for n in dir(sklearn.datasets) if n.startswith("make_"))
DATA_KEYS = ("dataset", "path", "loader", "params", "target", "features", "subsample")
#: What each bundled dataset and target generator's target is (others: a manifold, a
#: matrix, biclusters, where the table alone does not say).
_TASKS = {
    **dict.fromkeys(("iris", "digits", "wine", "breast_cancer"), "classification"),
    **dict.fromkeys(
        ("make_classification", "make_blobs", "make_moons", "make_circles", "make_hastie_10_2",
         "make_gaussian_quantiles"),
        "classification",
    ),
    **dict.fromkeys(
        ("diabetes", "make_regression", "make_friedman1", "make_friedman2", "make_friedman3",
         "make_sparse_uncorrelated"),
        "regression",
    ),
}  # fmt: skip


def data_task(spec) -> str | None:
    """The task, "classification" or "regression", of a bundled dataset or a generator
    (``make_regression``); None where the table alone does not say (a file, a loader)."""
    name = spec.get("dataset") if isinstance(spec, dict) else None
    return _TASKS.get(name) if isinstance(name, str) else None


def load_data(spec, checker: Checker, *, base_dir: Path, seed: int) -> tuple:
    """``(X, y, description)`` from the study's ``[data]`` table.

    A generator (``make_*``) that is not given a ``random_state`` gets ``seed``, so that
    a rerun of the study sees the same rows; so does ``subsample``, a number of rows drawn
    at random (in their order in the data).
    """
    X, y, description = _load(spec, checker, base_dir=base_dir, seed=seed)
    subsample = spec.get("subsample")
    if subsample is None:
        return X, y, description
    checker.number(subsample, ("data", "subsample"), 2, None, integer=True)
    if subsample >= len(y):
        return X, y, description
    rows = np.sort(np.random.RandomState(seed).choice(len(y), subsample, replace=False))
    return X[rows], y[rows], f"{description}, {subsample} rows drawn at random"


def _load(spec, checker: Checker, *, base_dir: Path, seed: int) -> tuple:
    path = ("data",)
    if spec is None:
        checker.fail(path, "is missing: add [data] with dataset = 'digits' (or path, or loader).")
    checker.keys(spec, path, DATA_KEYS, what="[data]")
    sources = [key for key in ("dataset", "path", "loader") if key in spec]
    if len(sources) != 1:
        checker.fail(
            path,
            "needs exactly one of dataset (a bundled dataset or a make_* "
            f"generator), path (a CSV or Parquet file) or loader; got {sources}.",
        )
    source = sources[0]
    params = spec.get("params", {})
    if not isinstance(params, dict):
        checker.fail((*path, "params"), f"must be a table of arguments, got {params!r:.60}.")
    for key in ("target", "features"):
        if key in spec and source != "path":
            checker.fail((*path, key), f"goes with path (a file's columns), not with {source}.")
    if source == "dataset":
        name = spec["dataset"]
        if name not in BUNDLED + _GENERATORS:
            checker.fail(
                (*path, "dataset"),
                f"{name!r} is not a bundled dataset or a "
                f"generator; {_hint(name, BUNDLED + _GENERATORS)}",
            )
        function = getattr(sklearn.datasets, name if name in _GENERATORS else f"load_{name}")
        check_arguments(f"sklearn.datasets.{function.__name__}", params, (*path, "params"), checker)
        params = _bound(function, params, (*path, "params"), checker)
        if name in _GENERATORS:
            params.setdefault("random_state", seed)
        else:
            params["return_X_y"] = True
        X, y = function(**params)[:2]
        return X, y, f"{name} ({_args(spec.get('params', {}))})" if spec.get("params") else name
    if source == "loader":
        function = import_object(spec["loader"], (*path, "loader"), checker, "loader")
        check_arguments(spec["loader"], params, (*path, "params"), checker)
        params = _bound(function, params, (*path, "params"), checker)
        data = function(**params)
        if hasattr(data, "data") and hasattr(data, "target"):  # a Bunch
            data = (data.data, data.target)
        if not (isinstance(data, tuple) and len(data) >= 2):
            checker.fail(
                (*path, "loader"),
                f"{spec['loader']} must return (X, y), got {type(data).__name__}.",
            )
        return data[0], data[1], spec["loader"]
    return _read_file(spec, checker, base_dir)


def _bound(function, params: dict, path, checker: Checker) -> dict:
    """``params`` checked against ``function``'s signature."""
    try:
        inspect.signature(function).bind_partial(**params)
    except TypeError:
        names = inspect.signature(function).parameters
        unknown = [k for k in params if k not in names] or list(params)[:1]
        checker.fail(
            (*path, *unknown[:1]),
            f"is not an argument of {function.__name__}; {_hint(unknown[0], names)}",
        )
    return dict(params)


def _args(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def _read_file(spec, checker: Checker, base_dir: Path) -> tuple:
    path = ("data",)
    file = Path(spec["path"])
    if not file.is_absolute():
        file = base_dir / file
    if not file.is_file():
        checker.fail(
            (*path, "path"),
            f"no file at {str(file)!r} (a relative path starts at the study file's folder).",
        )
    if "target" not in spec:
        checker.fail(path, "needs target = 'the column to predict' with path.")
    if file.suffix.lower() == ".parquet":
        try:
            import pandas as pd

            frame = pd.read_parquet(file)
        except ImportError as error:
            checker.fail((*path, "path"), f"reading Parquet needs pandas and pyarrow ({error}).")
        columns = {name: frame[name].to_numpy() for name in frame.columns}
    else:
        with open(file, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        if len(rows) < 2:
            checker.fail((*path, "path"), f"{file.name} needs a header row and data rows.")
        header, body = rows[0], rows[1:]
        columns = {name: np.array([row[i] for row in body]) for i, name in enumerate(header)}
    target = spec["target"]
    if target not in columns:
        checker.fail(
            (*path, "target"),
            f"{target!r} is not a column of {file.name}; {_hint(target, columns)}",
        )
    features = spec.get("features", [c for c in columns if c != target])
    for i, name in enumerate(features):
        if name not in columns:
            checker.fail((*path, "features", i), f"{name!r} is not a column of {file.name}.")
    X = np.empty((len(columns[target]), len(features)))
    for j, name in enumerate(features):
        try:
            X[:, j] = np.asarray(columns[name], dtype=float)
        except ValueError:
            checker.fail(
                (*path, "features"),
                f"column {name!r} is not numeric: encode it "
                "first, or list the numeric columns in features.",
            )
    return X, _numbers_if_numeric(columns[target]), file.name


def _numbers_if_numeric(y: np.ndarray) -> np.ndarray:
    """CSV text read as numbers when every value is one (integers stay integers)."""
    if y.dtype.kind in "iufb":
        return y
    try:
        as_float = y.astype(float)
    except ValueError:
        return y
    as_int = as_float.astype(int)
    return as_int if np.array_equal(as_int, as_float) else as_float


def make_cv(spec, checker: Checker, *, classifier: bool, seed: int):
    """The splitter of the study's ``[cv]`` table, seeded by the study when it shuffles.

    None gives ``compare_models``' default: 5 folds repeated twice, stratified for
    classifiers.
    """
    path = ("cv",)
    spec = dict(spec or {})
    name = spec.pop("splitter", "RepeatedStratifiedKFold" if classifier else "RepeatedKFold")
    if spec.keys() <= {"n_splits", "n_repeats"} and name in (
        "RepeatedStratifiedKFold",
        "RepeatedKFold",
    ):
        spec = {"n_splits": 5, "n_repeats": 2, **spec}
    # vars(), not getattr: scikit-learn's module raises ImportError for its experimental
    # names, which a misspelt splitter would otherwise meet in the hint.
    splitters = {
        n: obj
        for n, obj in vars(sklearn.model_selection).items()
        if not n.startswith("_") and inspect.isclass(obj) and hasattr(obj, "get_n_splits")
    }
    cls = splitters.get(str(name))
    if cls is None:
        checker.fail(
            (*path, "splitter"),
            f"{name!r} is not a splitter of sklearn.model_selection; {_hint(name, splitters)}",
        )
    if "Group" in name or name == "PredefinedSplit":
        checker.fail(
            (*path, "splitter"),
            f"{name} needs groups or fold labels, which a "
            "study does not take; use KFold, StratifiedKFold, ShuffleSplit or their "
            "repeated forms.",
        )
    signature = inspect.signature(cls)
    for key in spec:
        if key not in signature.parameters:
            checker.fail(
                (*path, key), f"is not an argument of {name}; {_hint(key, signature.parameters)}"
            )
    shuffles = "shuffle" not in signature.parameters or spec.get("shuffle", False)
    if "random_state" in signature.parameters and "random_state" not in spec and shuffles:
        spec["random_state"] = seed
    try:
        splitter = cls(**spec)
    except (TypeError, ValueError) as error:
        checker.fail(path, f"{name}({_args(spec)}) fails: {error}")
    return splitter
