"""A run folder read back: the tidy table of fold scores, the comparison, the analyses,
the report and the MLflow export, from the records alone."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..model_selection import ComparisonTables
from ._analyses import ANALYSES
from ._mlflow import to_mlflow
from ._report import summary_lines, write_report
from ._store import STUDY_FILE, RunFolder


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
        return ANALYSES["comparison"].tables(self)

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
        return ANALYSES["calibration"].scores(self)

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
            The MLflow experiment, created if missing; None: the study's name, a "/" in it
            (which MLflow's UI reads as a folder) made "-".

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
        return to_mlflow(self, tracking_uri, experiment_name)

    @property
    def progress(self) -> str:
        """What is recorded, of what."""
        declared = self.study["analyses"]
        line = (
            f"{self.done} of {self.total} folds recorded ({len(self.models)} "
            f"model{'s' * (len(self.models) > 1)} x {self.n_folds} folds)"
        )
        if declared:  # a fold analysis is done with the folds; a fitted one, when recorded
            fitted = self.study["analysis_fingerprints"]
            from_folds = len(set(declared) - set(fitted)) if self.done == self.total else 0
            line += f", {len(self._analyses) + from_folds} of {len(declared)} analyses"
        return line + ("" if self.complete else "; run the study again to finish it") + "."

    @property
    def status(self) -> str:
        """The study's name and its :attr:`progress`."""
        return f"{self.study['name']!r}: {self.progress}"

    def __str__(self) -> str:
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
