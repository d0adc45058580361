"""A run folder: the study it ran, one record per finished fold or analysis, read back.

Every record is written whole or not at all (a temporary file made in the same folder,
flushed to disk, then renamed over the record's name), so a run killed at any moment leaves
only complete records and, at worst, a temporary file the next run removes. One run writes
a folder at a time (a lock the system releases when its process ends, however it ends), and
no write follows a symbolic link: what a run or a report writes stays inside the folder.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

import numpy as np

from ..model_selection import ComparisonTables
from ._schema import RunFolderError, check_analysis_record, check_fold_record, check_study

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per folder is not enforced
    fcntl = None

STUDY_FILE = "study.json"
RECORDS = "records"
LOCK_FILE = ".lock"
#: The largest ``study.json`` and record a run folder may hold. A study's record is a few
#: kilobytes; a fold's record grows with its test rows (about 60 bytes a row and class, so
#: 256 MiB holds a million test rows of four classes). Larger files are refused unread.
MAX_STUDY_BYTES = 8 * 2**20
MAX_RECORD_BYTES = 256 * 2**20


def digest(*parts) -> str:
    """A short, stable hash of arrays and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
            h.update(f"{part.dtype.str}{part.shape}".encode())
            h.update(part.tobytes() if part.dtype.kind != "O" else repr(part.tolist()).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=repr).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


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


_LINK = (
    "is a symbolic link: the files and folders of a run folder are never links, so that "
    "nothing a run or a report writes lands outside it. Remove the link, or use a new folder."
)


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` at ``target``, whole or not at all, never through a symbolic link.

    The temporary file is made new in the target's folder (``O_EXCL`` opens no existing
    name or link; its mode is the one ``open`` gives, as the umask says) and renamed over
    ``target``, which replaces the name itself.
    """
    target = Path(target)
    if target.is_symlink():
        raise RunFolderError(target, _LINK)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with open(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_own_file(handle: int, path: Path) -> None:
    """Refuse to write through ``handle`` unless it is a plain file with one name, owned
    by this user: a hard link would carry the write to a file outside the folder."""
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        raise RunFolderError(
            path,
            "is a hard link or not a plain file: a run writes only files of its own folder, "
            "so it does not write here. Remove it, or use a new folder.",
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise RunFolderError(
            path, f"belongs to another user (uid {info.st_uid}): remove it, or use a new folder."
        )


def _listing(folder: Path) -> list[str]:
    """The names in ``folder`` but the hidden ones (temporary files); none if missing."""
    return sorted(n for n in os.listdir(folder) if not n.startswith(".")) if folder.is_dir() else []


class RunFolder:
    """The files of one run: ``study.json`` and ``records/``, and the folder's lock."""

    def __init__(self, path):
        self.path = Path(path)

    def inside(self, relative: str) -> Path:
        """The path of ``relative`` in the folder, refusing a symbolic link on the way."""
        target = self.path
        for part in Path(relative).parts:
            target = target / part
            if target.is_symlink():
                raise RunFolderError(target, _LINK)
        return target

    def write(self, relative: str, data: dict) -> None:
        """Write ``data`` as JSON at ``relative``, whole or not at all."""
        target = self.inside(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(data))

    def read(self, relative: str):
        """The JSON at ``relative`` (None if there is no such file)."""
        target = self.inside(relative)
        if not target.is_file():
            return None
        limit = MAX_STUDY_BYTES if relative == STUDY_FILE else MAX_RECORD_BYTES
        try:
            with open(target, encoding="utf-8") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > limit:
                    raise RunFolderError(
                        target,
                        f"holds {size / 2**20:.0f} MiB, more than a run writes there (at most "
                        f"{limit // 2**20} MiB): it is not read. Remove it, or rerun the study.",
                    )
                return json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            message = f"is not a record a run writes (not JSON: {error})."
            raise RunFolderError(target, message) from None

    def study(self) -> dict | None:
        """``study.json``, checked (None in a folder no run has written)."""
        study = self.read(STUDY_FILE)
        return None if study is None else check_study(study, self.path / STUDY_FILE)

    def _records(self, kind: str) -> list[str]:
        """The records under ``records/<kind>`` (a folder per model for the folds):
        relative paths, in order; a link among them is refused, never skipped."""
        top = self.inside(f"{RECORDS}/{kind}")
        folders = [top] if kind == "analyses" else [top / name for name in _listing(top)]
        out = []
        for folder in folders:
            if folder.is_symlink():
                raise RunFolderError(folder, _LINK)
            for name in _listing(folder):
                file = folder / name
                if file.is_symlink():
                    raise RunFolderError(file, _LINK)
                if name.endswith(".json") and file.is_file():
                    out.append(str(file.relative_to(self.path)))
        return sorted(out)

    def fold_records(self, study: dict) -> dict:
        """``{(model, fold): record}`` of every finished fold, each checked."""
        out = {}
        for relative in self._records("folds"):
            record = check_fold_record(self.read(relative), self.path / relative, study)
            if relative != fold_path(record["model"], record["fold"]):
                raise RunFolderError(
                    self.path / relative,
                    f"holds the record of model {record['model']!r}, fold {record['fold']}, "
                    "under another name.",
                )
            out[record["model"], record["fold"]] = record
        return out

    def analysis_records(self, study: dict) -> dict:
        """``{kind: (record, result)}`` of every analysis recorded, each checked."""
        out = {}
        for relative in self._records("analyses"):
            record = self.read(relative)
            result = check_analysis_record(record, self.path / relative, study)
            out[record["kind"]] = record, result
        return out

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True):
        """Hold the folder for one writer: wait for (or, without ``wait``, refuse) a folder
        another process writes. The system releases the lock when its process ends, so
        one left by a killed run never blocks."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(self.path, "is a file, not a run folder: give a folder.")
        self.path.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            handle = os.open(self.inside(LOCK_FILE), flags, 0o644)
        except OSError as error:
            raise RunFolderError(self.path / LOCK_FILE, f"cannot be opened: {error}") from None
        try:
            _check_own_file(handle, self.path / LOCK_FILE)
            if fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
                    busy = f"run folder {str(self.path)!r} in use by pid {holder}"
                    if not wait:
                        raise RunFolderError(
                            self.path, f"in use by pid {holder}: wait for that run to end."
                        ) from None
                    print(f"{busy}; waiting, Ctrl-C to stop", file=sys.stderr, flush=True)
                    fcntl.flock(handle, fcntl.LOCK_EX)
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(handle)  # releases the lock

    def clean(self, *, records: bool = False) -> None:
        """Remove what a killed run left half-written (and every record, with ``records``).

        Call it holding the lock: the temporary files are then those of runs that died."""
        top = self.inside(RECORDS)
        if records and top.is_dir():
            shutil.rmtree(top)
        leftovers = list(self.path.glob(f".{STUDY_FILE}.*.tmp"))
        for folder, _, files in os.walk(top):  # never into a linked folder
            leftovers += [Path(folder, n) for n in files if n[0] == "." and n.endswith(".tmp")]
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)


def fold_path(model: str, fold: int) -> str:
    return f"{RECORDS}/folds/{model}/{fold:04d}.json"


def analysis_path(kind: str) -> str:
    return f"{RECORDS}/analyses/{kind}.json"


class RunResults:
    """What a run folder holds, read back: the tidy table, the comparison, the analyses.

    Made by :func:`load_run` and by :meth:`Experiment.run`. It reads the records alone, so
    a finished (or half-finished) run is reported on a machine without the study's data
    or estimators.

    Attributes
    ----------
    path : pathlib.Path
        The run folder.
    study : dict
        The study as the run recorded it: models, scorers, splits, data, versions.
    n_folds : int
        Folds per model.
    done : int
        Fold records found, over every model.
    total : int
        ``n_folds`` times the number of models.

    See Also
    --------
    load_run : the function that returns it.
    Experiment : the study that writes the folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from ensemblekit.experiment import Experiment, load_run
    >>> X, y = load_iris(return_X_y=True)
    >>> study = Experiment({"prior": DummyClassifier()}, X, y, cv=3, verbose=0)
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     _ = study.run(run_dir)
    ...     run = load_run(run_dir)
    >>> run.n_folds, run.done, run.total, run.results.shape
    (3, 3, 3, (3, 4))
    """

    def __init__(self, path):
        self.path = Path(path)
        folder = RunFolder(self.path)
        study = folder.study()
        if study is None:
            raise FileNotFoundError(
                f"{str(self.path)!r} is not a run folder (it has no {STUDY_FILE}): pass the "
                "folder given to 'ensemblekit run --out' or Experiment.run."
            )
        self.study = study
        self.models = list(study["models"])
        self.scorers = list(study["scorers"])
        self.n_folds = study["cv"]["n_splits"]
        self._folds = {
            key: record
            for key, record in folder.fold_records(study).items()
            if key[0] in study["models"] and record["fingerprint"] == study["folds"][key[0]][key[1]]
        }
        self._analyses = {
            kind: (record, result)
            for kind, (record, result) in folder.analysis_records(study).items()
            if record["fingerprint"] == study["analysis_fingerprints"].get(kind)
        }
        self.done = len(self._folds)
        self.total = self.n_folds * len(self.models)

    @property
    def complete(self) -> bool:
        """Every fold of every model and every analysis is recorded."""
        return self.done == self.total and self._analyses.keys() == set(
            self.study["analysis_fingerprints"]
        )

    def fold_record(self, model: str, fold: int) -> dict | None:
        """The record of one model's fold as written (None if not done).

        Parameters
        ----------
        model : str
        fold : int
            Its position in the splitter's order.

        Returns
        -------
        record : dict or None
            ``scores`` (scorer name to score), ``n_train``, ``n_test``, and for
            classifiers ``y_true`` and ``proba`` on the fold's test rows.
        """
        return self._folds.get((model, fold))

    @property
    def results(self):
        """One row per model, fold and scorer: a pandas DataFrame with the columns
        ``model``, ``fold``, ``scorer`` and ``score`` (a list of dicts without pandas)."""
        rows = [
            {"model": model, "fold": fold, "scorer": scorer, "score": record["scores"][scorer]}
            for model in self.models
            for fold in range(self.n_folds)
            if (record := self._folds.get((model, fold))) is not None
            for scorer in self.scorers
        ]
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows, columns=["model", "fold", "scorer", "score"])

    def common_folds(self) -> list[int]:
        """The folds every model has finished: the ones a comparison can pair.

        Returns
        -------
        folds : list of int
        """
        return [
            fold
            for fold in range(self.n_folds)
            if all((model, fold) in self._folds for model in self.models)
        ]

    @property
    def missing_scores(self) -> list[tuple[str, int, str]]:
        """``(model, fold, scorer)`` of each recorded score that is not a number (NaN or
        inf: a fold whose predictions could not be scored). The comparison leaves those
        folds out of that scorer's table; ``show`` and the report say so."""
        return [
            (model, fold, scorer)
            for (model, fold), record in sorted(self._folds.items())
            for scorer in self.scorers
            if not math.isfinite(record["scores"][scorer])
        ]

    @property
    def comparison(self) -> ComparisonTables | None:
        """:class:`~ensemblekit.model_selection.ComparisonTables` over the folds every
        model has finished with a finite score (a scorer with fewer than two such folds has
        no table; None when no scorer has one)."""
        folds = self.common_folds()
        settings = self.study["analyses"].get("comparison", {})
        records = [self._folds[model, fold] for model in self.models for fold in folds]
        missing = {(fold, scorer) for _, fold, scorer in self.missing_scores}
        by_scorer = {}
        for scorer in self.scorers:
            scored = [f for f in folds if (f, scorer) not in missing]
            if len(scored) >= 2:
                by_scorer[scorer] = {
                    model: np.array([self._folds[model, f]["scores"][scorer] for f in scored])
                    for model in self.models
                }
        if not by_scorer:
            return None
        correction = settings.get("correction", "holm")
        return ComparisonTables.from_scores(
            by_scorer,
            {name: tuple(self.study["scorers"][name]) for name in by_scorer},
            test=settings.get("test", "corrected_ttest"),
            confidence_level=settings.get("confidence_level", 0.95),
            correction=None if correction == "none" else correction,
            n_train=float(np.mean([r["n_train"] for r in records])),
            n_test=float(np.mean([r["n_test"] for r in records])),
        )

    def out_of_fold(self, model: str) -> tuple | None:
        """A model's test-fold probabilities, pooled over the folds every model finished.

        Parameters
        ----------
        model : str

        Returns
        -------
        y_true, proba : ndarray of shape (n,) and (n, n_classes), or None
            Classes as indices into ``study["data"]["classes"]``; None for a model
            without ``predict_proba``.
        """
        records = [self._folds[model, f] for f in self.common_folds()]
        if not records or records[0].get("proba") is None:
            return None
        y = np.concatenate([r["y_true"] for r in records]).astype(int)
        return y, np.concatenate([np.asarray(r["proba"], dtype=float) for r in records])

    @property
    def calibration(self) -> dict | None:
        """Per model, the expected calibration error and multiclass Brier score of its
        out-of-fold probabilities (None without the calibration analysis)."""
        from ..metrics import expected_calibration_error, multiclass_brier_score

        settings = self.study["analyses"].get("calibration")
        if settings is None:
            return None
        labels = np.arange(len(self.study["data"]["classes"]))
        out = {}
        for model in self.models:
            if (pooled := self.out_of_fold(model)) is not None:
                y, proba = pooled
                out[model] = {
                    "ece": expected_calibration_error(
                        y,
                        proba,
                        n_bins=settings["n_bins"],
                        strategy=settings["strategy"],
                        labels=labels,
                    ),
                    "brier": multiclass_brier_score(y, proba, labels=labels),
                }
        return out

    @property
    def analyses(self) -> dict:
        """``{kind: result}`` of the fitted analyses recorded: a list of
        :class:`~ensemblekit.model_selection.BiasVarianceResult`, an
        :class:`~ensemblekit.model_selection.EnsembleSizeCurve`, a
        :class:`~ensemblekit.model_selection.PredictiveUncertainty`."""
        return {kind: result for kind, (_, result) in self._analyses.items()}

    def analysis_record(self, kind: str) -> dict | None:
        """The record of one analysis as written (None if not done).

        Parameters
        ----------
        kind : {"bias_variance", "size_curve", "uncertainty"}

        Returns
        -------
        record : dict or None
            Its ``settings`` and its ``result`` in JSON form (see :attr:`analyses` for
            the result objects).
        """
        return self._analyses.get(kind, (None, None))[0]

    def report(self, path=None):
        """Write the self-contained HTML report (needs matplotlib); returns its path.

        Parameters
        ----------
        path : str or path-like or None, default=None
            Where to write it (a folder: ``report.html`` in it); None writes
            ``report.html`` in the run folder. A symbolic link there is refused.

        Returns
        -------
        path : pathlib.Path
        """
        from ._report import write_report

        if path is None:
            path = RunFolder(self.path).inside("report.html")
        elif Path(path).is_dir():
            path = Path(path) / "report.html"
        return write_report(self, Path(path))

    def to_mlflow(self, tracking_uri: str, experiment_name: str | None = None) -> str:
        """Export the run to MLflow: a parent run for the study, a child run per model.

        The parent run holds tags for the study's name and the package versions, and the
        study (its TOML text when it came from a file, and ``study.json``) and the HTML
        report as artifacts. Each model's child run, named by the model, holds its
        parameters flattened as MLflow params (``params.module__hidden_units``), every
        finished fold's score as the metric ``<scorer>.fold`` with the fold as its step,
        and the comparison's ``<scorer>.mean``, ``.ci_low`` and ``.ci_high``. Exporting
        again (after a resumed run, say) updates those runs instead of adding new ones: a
        tag holds a digest of the study, and two exports at once end with one set of runs.
        A score that is NaN in the run folder is exported as a missing value, with a
        warning. Needs mlflow (``pip install 'ensemblekit[mlflow]'``); the report needs
        matplotlib and is left out, with a warning, without it.

        Parameters
        ----------
        tracking_uri : str
            Any MLflow tracking URI: a server (``http://host:5000``), a database
            (``sqlite:///mlflow.db``), Databricks. The process's own MLflow settings are
            neither read nor changed.
        experiment_name : str or None, default=None
            The MLflow experiment, created if missing; None: the study's name.

        Returns
        -------
        run_id : str
            The parent run's id.

        Raises
        ------
        RuntimeError
            ``MlflowExportError``, one line naming the URI or the experiment, when MLflow
            refuses (a URI it cannot use, a deleted experiment).

        Examples
        --------
        >>> import tempfile, mlflow  # doctest: +SKIP
        >>> run = load_run("runs/demo")  # doctest: +SKIP
        >>> run_id = run.to_mlflow("sqlite:///mlflow.db")  # doctest: +SKIP
        >>> mlflow.search_runs(search_all_experiments=True)  # doctest: +SKIP
        """
        from ._mlflow import to_mlflow

        return to_mlflow(self, tracking_uri, experiment_name)

    @property
    def progress(self) -> str:
        """What is recorded, of what."""
        analyses = self.study["analysis_fingerprints"]
        line = (
            f"{self.done} of {self.total} folds recorded ({len(self.models)} "
            f"model{'s' * (len(self.models) > 1)} x {self.n_folds} folds)"
        )
        if analyses:
            line += f", {len(self._analyses)} of {len(analyses)} analyses"
        return line + ("" if self.complete else "; run the study again to finish it") + "."

    @property
    def status(self) -> str:
        """The study's name and its :attr:`progress`."""
        return f"{self.study['name']!r}: {self.progress}"

    def __str__(self) -> str:
        from ._report import summary_lines

        return "\n".join([self.status, *summary_lines(self)])

    def __repr__(self) -> str:
        return f"RunResults({str(self.path)!r}, done={self.done}, total={self.total})"


def load_run(run_dir) -> RunResults:
    """Read a run folder written by :meth:`Experiment.run` or ``ensemblekit run``.

    Parameters
    ----------
    run_dir : str or path-like

    Returns
    -------
    run : RunResults
        Its ``results`` table, ``comparison``, ``calibration`` and ``analyses``, and
        ``report()``.

    Raises
    ------
    RunFolderError
        A file of the folder does not hold what a run writes (it is not JSON, or a value
        has the wrong type or size), or one is a symbolic link. The folder is read as
        data: nothing it names is imported, and no pickle is loaded.

    See Also
    --------
    Experiment.run : writes a run folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.experiment import Experiment, load_run
    >>> X, y = load_iris(return_X_y=True)
    >>> study = Experiment({"tree": DecisionTreeClassifier(random_state=0)}, X, y, cv=4, verbose=0)
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     _ = study.run(run_dir)
    ...     scores = load_run(run_dir).results  # from the records alone
    >>> scores.shape, list(scores.columns)
    ((4, 4), ['model', 'fold', 'scorer', 'score'])
    """
    return RunResults(run_dir)
