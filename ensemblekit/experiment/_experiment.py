"""A study that runs, resumes and reports: models x folds through the member engine."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import is_classifier
from sklearn.model_selection import (
    RepeatedKFold,
    RepeatedStratifiedKFold,
    check_cv,
    train_test_split,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_consistent_length, column_or_1d

from ..engine import cross_fit
from ..metrics import score_limits
from ..utils._fit_warnings import warnings_of
from ..utils._proba import align_proba
from ..utils._random import draw_seeds
from ._analyses import FITTED
from ._checker import Checker, StudyError
from ._data import data_task, load_data, make_cv
from ._fingerprint import _changes, describe, versions
from ._kit import check_scoring, encode
from ._records import RunResults
from ._store import STUDY_FILE, RunFolder, analysis_path, digest, fold_path
from ._study import (
    check_analyses,
    check_models,
    check_net_components,
    check_settings,
    read_study,
)

_RESTART = "pass restart=True to discard the old records"


class StudyChangedError(StudyError):
    """The run folder holds records of another study (other data, splits or models).

    Parameters
    ----------
    folder : str
        The run folder.
    changes : list of str
        What changed, one item each (``"models.net: max_depth 2 -> 4"``).
    fix : str, default="pass restart=True to discard the old records"
        How to start the folder over, in the caller's words.

    Attributes
    ----------
    folder, changes
        As given.

    See Also
    --------
    Experiment.run : ``restart=True`` starts the folder over.
    StudyError : a study that cannot run.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from ensemblekit.experiment import Experiment, StudyChangedError
    >>> X, y = load_iris(return_X_y=True)
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     _ = Experiment({"tree": DecisionTreeClassifier(max_depth=2)}, X, y, cv=3,
    ...                    verbose=0).run(run_dir)
    ...     try:
    ...         Experiment({"tree": DecisionTreeClassifier(max_depth=4)}, X, y, cv=3,
    ...                    verbose=0).run(run_dir)
    ...     except StudyChangedError as error:
    ...         print(error)  # doctest: +ELLIPSIS
    '...' holds records of another study: models.tree: max_depth 2 -> 4. ...
    """

    def __init__(self, folder: str, changes: list[str], fix: str = _RESTART):
        self.folder, self.changes = folder, changes
        super().__init__(
            "",
            f"{folder!r} holds records of another study: {'; '.join(changes)}. Run into a new "
            f"folder, or {fix}.",
        )


def quick_mode(quick: bool | None) -> bool:
    """``quick``, or when None, whether the environment sets ``ENSEMBLEKIT_QUICK=1``."""
    return os.environ.get("ENSEMBLEKIT_QUICK") == "1" if quick is None else bool(quick)


class Experiment:
    """A study: several models scored on the same folds, with analyses, run to a folder.

    ``run(run_dir)`` fits every model on every fold through the member engine (under the
    active ``joblib.parallel_config``: loky, threading, Dask, Ray) and writes each fold's
    scores to the run folder as soon as the fold is done. Run it again on the same folder
    and it skips what is recorded: a killed run loses only the folds in progress, and the
    final table is the one an uninterrupted run gives. A folder that holds records of a
    changed study (data, splits, scorers, seed or a model's parameters) is refused, never
    mixed with it.

    Build one from a TOML file with :meth:`from_toml` (the ``ensemblekit run`` command does)
    or from Python objects here.

    Parameters
    ----------
    models : dict of str to estimator
        The models, by name (letters, digits, ``_``, ``-``, ``.``); each is cloned per fold.
        All classifiers, or all regressors.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    cv : int, splitter or None, default=None
        None: ``RepeatedStratifiedKFold(n_splits=5, n_repeats=2)`` for classifiers
        (``RepeatedKFold`` otherwise), seeded by ``random_state``, as
        :func:`~ensemblekit.model_selection.compare_models` does. Needs at least 2 splits.
    scoring : str, list of str or None, default=None
        Scorer names: scikit-learn's (``sklearn.metrics.get_scorer_names()``) or
        ``ensemblekit.metrics.scorers``. None: accuracy for classifiers, R² otherwise.
    analyses : dict or None, default=None
        ``{kind: settings}`` for the analyses to run besides the folds, with the keys
        and defaults of the study file's ``[analyses.*]`` tables: "comparison" (its test,
        confidence level and correction), "calibration" (of the out-of-fold
        probabilities), "bias_variance", "size_curve", "uncertainty".
    name : str, default="study"
    n_jobs : int or None, default=None
        Workers for the folds, as in joblib.
    engine : {"auto", "joblib", "vectorized"}, default="auto"
        How each model's folds train (see :func:`ensemblekit.engine.fit_members`): "auto"
        stacks the folds of an ensemblekit net into one model when it can.
    random_state : int, default=0
        Seeds the splits, each fold's unseeded estimators and the analyses. A study is
        reproducible (and resumable) by default.
    verbose : int, default=1
        > 0 shows a progress bar of the folds done of the total.

    Attributes
    ----------
    run_ : RunResults
        The run folder read back after :meth:`run`.

    See Also
    --------
    load_run : read a run folder.
    ensemblekit.model_selection.compare_models : the same comparison, in memory.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from sklearn.linear_model import LogisticRegression
    >>> from ensemblekit.experiment import Experiment
    >>> X, y = load_iris(return_X_y=True)
    >>> study = Experiment({"logistic": LogisticRegression(max_iter=500),
    ...                     "dummy": DummyClassifier()}, X, y, cv=5, verbose=0)
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     results = study.run(run_dir).results
    >>> results.groupby("model")["score"].mean().round(3).to_dict()
    {'dummy': 0.333, 'logistic': 0.973}
    """

    def __init__(
        self,
        models: dict,
        X,
        y,
        *,
        cv=None,
        scoring=None,
        analyses: dict | None = None,
        name: str = "study",
        n_jobs: int | None = None,
        engine: str = "auto",
        random_state: int = 0,
        verbose: int = 1,
    ):
        self.models, self.X, self.y = models, X, y
        self.cv, self.scoring, self.analyses = cv, scoring, analyses
        self.name, self.n_jobs, self.engine = name, n_jobs, engine
        self.random_state, self.verbose = random_state, verbose
        self.study_text: str | None = None
        self.source: str | None = None
        self.data_description = "X, y given in Python"
        self._check(Checker())

    def _check(self, checker: Checker) -> None:
        """Everything that can fail before a fit fails here."""
        check_settings(
            {
                "name": self.name,
                "random_state": self.random_state,
                "n_jobs": self.n_jobs,
                "engine": self.engine,
            },
            checker,
        )
        self._models = check_models(self.models, checker)
        self._classifier = is_classifier(next(iter(self._models.values())))
        self._X = check_array(self.X, dtype=None, ensure_all_finite=False)
        self._y = column_or_1d(self.y)
        check_consistent_length(self._X, self._y)
        self._classes = None
        if self._classifier:
            try:
                check_classification_targets(self._y)
            except ValueError as error:
                checker.fail(("data",), f"y does not suit classifiers: {error}")
            self._classes = np.unique(self._y)
        n_outputs = len(self._classes) if self._classifier else 1
        for name, model in self._models.items():
            check_net_components(model, self._X.shape[1], n_outputs, ("models", name), checker)
        self._scorers = check_scoring(self.scoring, self._classifier, checker)
        self._analyses = check_analyses(self.analyses, self._models, self._classifier, checker)
        self._cv = self._splitter()
        try:
            self._splits = list(self._cv.split(self._X, self._y))
        except ValueError as error:  # more folds than rows, or than a class's rows
            checker.fail(("cv",), f"{self._cv!r} cannot split the {len(self._y)} rows: {error}")
        if len(self._splits) < 2:
            checker.fail(("cv",), f"gives {len(self._splits)} split; a study needs at least 2.")

    def _splitter(self):
        if self.cv is None:
            splitter = RepeatedStratifiedKFold if self._classifier else RepeatedKFold
            return splitter(n_splits=5, n_repeats=2, random_state=self.random_state)
        return check_cv(self.cv, self._y, classifier=self._classifier)

    @classmethod
    def from_toml(cls, path, *, quick: bool | None = None, trust=()) -> Experiment:
        """Read a study file; every key is checked before any fit.

        A study file names classes and functions by import path, and building them runs
        their code, so a file may name only estimators, torch modules, losses, optimizers
        and schedulers, skorch callbacks, splitters and ``sklearn.datasets`` loaders of
        ensemblekit, scikit-learn, torch, skorch and imbalanced-learn, each checked for
        its kind before it is called. Anything else (your own module) runs only when you
        trust its module here; a file cannot trust anything for itself.

        Parameters
        ----------
        path : str or path-like
            The TOML file. Relative data paths start at its folder.
        quick : bool or None, default=None
            Lay the file's ``[quick]`` table over the study (a smaller version, for a
            smoke test). None: when the environment sets ``ENSEMBLEKIT_QUICK=1``.
        trust : str or sequence of str, default=()
            Modules whose names the file may use freely (``"mymodels"``; a package
            trusts its submodules), as ``ensemblekit run --trust`` does.

        Returns
        -------
        experiment : Experiment

        Raises
        ------
        StudyError
            Naming the key, its line and the fix, for an unknown key, a parameter an
            estimator does not have, a value outside its range, a name that does not import,
            or a name the file may not use (nothing it names has run then).
        """
        raw, checker, text = read_study(path, quick=quick_mode(quick), trust=trust)
        settings = check_settings(raw, checker)
        seed = 0 if settings["random_state"] is None else settings["random_state"]
        checker.task = data_task(raw.get("data"))  # hints name estimators of the study's task
        models = check_models(raw.get("models"), checker)
        classifier = is_classifier(next(iter(models.values())))
        X, y, description = load_data(
            raw.get("data"), checker, base_dir=Path(path).parent, seed=seed
        )
        cv = make_cv(raw.get("cv"), checker, classifier=classifier, seed=seed)
        try:  # the constructor checks scoring and analyses; the file knows their lines
            experiment = cls(
                models,
                X,
                y,
                cv=cv,
                scoring=raw.get("scoring"),
                analyses=raw.get("analyses"),
                name=settings["name"],
                n_jobs=settings["n_jobs"],
                engine=settings["engine"],
                random_state=seed,
            )
        except StudyError as error:
            raise checker.locate(error) from None
        experiment.study_text, experiment.source = text, str(path)
        experiment.data_description = description
        return experiment

    # ------------------------------------------------------------------ running

    def _meta(self) -> dict:
        """What the run folder records of the study, fingerprints included."""
        k = len(self._splits)
        seeds = draw_seeds(self.random_state, k)
        models = {name: describe(est) for name, est in self._models.items()}
        data = digest(self._X, self._y)
        folds = {
            name: [
                digest(spec, data, train, test, int(seed), list(self._scorers))
                for (train, test), seed in zip(self._splits, seeds, strict=True)
            ]
            for name, spec in models.items()
        }
        first = next(iter(self._models.values()))
        return {
            "format": 1,
            "name": self.name,
            "task": "classification" if self._classifier else "regression",
            "models": models,
            "scorers": {
                label: list(score_limits(entry, first)) for label, entry in self._scorers.items()
            },
            "data": {
                "description": self.data_description,
                "digest": data,
                "n_samples": int(self._X.shape[0]),
                "n_features": int(self._X.shape[1]),
                "classes": None if self._classes is None else self._classes.tolist(),
            },
            "cv": {
                "description": repr(self._cv),
                "n_splits": k,
                "digest": digest(*[part for split in self._splits for part in split]),
            },
            "random_state": self.random_state,
            "engine": self.engine,
            "analyses": self._analyses,
            "analysis_fingerprints": {
                kind: digest(
                    kind, settings, _models_digested(settings, models), data, self.random_state
                )
                for kind, settings in self._analyses.items()
                if kind in FITTED
            },
            "folds": folds,
            "seeds": [int(s) for s in seeds],
            "study_text": self.study_text,
            "source": self.source,
            "versions": versions(),
        }

    def run(self, run_dir, *, restart: bool = False, wait: bool = True) -> Experiment:
        """Fit and score every model on every fold not yet recorded in ``run_dir``.

        Parameters
        ----------
        run_dir : str or path-like
            The run folder; created if missing. Each finished fold is written there at
            once; a rerun skips them.
        restart : bool, default=False
            Discard the folder's records first. Needed when the study changed since they
            were written.
        wait : bool, default=True
            One run writes a folder at a time. True: wait for a run of another process
            on ``run_dir`` to end (saying so); False: raise instead.

        Returns
        -------
        self : Experiment
            With ``run_`` (and ``results``) read back from the folder.

        Raises
        ------
        StudyChangedError
            ``run_dir`` holds records of a study with other data, splits, scorers, seed or
            model parameters; it says which.
        RunFolderError
            ``run_dir`` holds a file a run does not write, or a symbolic link; or, with
            ``wait=False``, another process is running into it.
        """
        folder = RunFolder(run_dir)
        meta = self._meta()
        with folder.lock(wait=wait):
            old = None if restart else folder.study()
            changes = [] if old is None else _changes(old, meta)
            if changes:
                raise StudyChangedError(str(folder.path), changes)
            folder.clean(records=restart)
            folder.write(STUDY_FILE, meta)
            done = RunResults(folder.path)
            self._run_folds(folder, meta, done)
            self._run_analyses(folder, meta, done)
            self.run_ = RunResults(folder.path)
        return self

    def _run_folds(self, folder: RunFolder, meta: dict, done: RunResults) -> None:
        from tqdm.auto import tqdm

        k = len(self._splits)
        workers = joblib.effective_n_jobs(self.n_jobs)
        if self.verbose and workers > 1 and done.done < done.total:
            # Until the first fold ends, the bar would stand still while workers start.
            print(
                f"{self.name}: {done.total - done.done} folds on {workers} workers (starting "
                "them takes seconds; a cluster's, longer)",
                file=sys.stderr,
            )
        bar = tqdm(
            total=done.total,
            initial=done.done,
            desc=f"{self.name}: folds",
            unit="fold",
            disable=not self.verbose,
            file=sys.stderr,
        )
        with bar:
            for name, model in self._models.items():
                pending = [f for f in range(k) if done.fold_record(name, f) is None]
                if not pending:
                    continue

                def save(fold, member, scores, name=name):
                    folder.write(
                        fold_path(name, fold), self._fold_record(name, fold, member, scores, meta)
                    )
                    bar.update(1)

                # Fold f's seed is draw_seeds(random_state, k)[f], as meta["seeds"] records.
                with warnings_of(label=repr(name)):
                    cross_fit(
                        model, self._X, self._y, self._splits, scoring=dict(self._scorers),
                        n_jobs=self.n_jobs, random_state=self.random_state,
                        engine=self.engine, predictions=False, folds=pending, on_fold=save,
                    )  # fmt: skip

    def _fold_record(self, name, fold, member, scores, meta) -> dict:
        train, test = self._splits[fold]
        X_test, y_test = self._X[test], self._y[test]
        record = {
            "model": name,
            "fold": fold,
            "fingerprint": meta["folds"][name][fold],
            "n_train": len(train),
            "n_test": len(test),
            "scores": {label: float(scores[label]) for label in self._scorers},
            "y_true": None,
            "proba": None,
        }
        if self._classifier and hasattr(member, "predict_proba"):
            proba = align_proba(member.predict_proba(X_test), member.classes_, self._classes)
            record["y_true"] = np.searchsorted(self._classes, y_test).tolist()
            record["proba"] = proba.tolist()
        return record

    def _run_analyses(self, folder: RunFolder, meta: dict, done: RunResults) -> None:
        fitted = {}
        for kind, settings in self._analyses.items():
            if kind not in FITTED or done.analysis_record(kind) is not None:
                continue
            of = "every model" if settings["model"] is None else repr(settings["model"])
            if self.verbose:
                print(f"{self.name}: {kind} of {of}", file=sys.stderr)
            split = self._holdout(settings["test_size"])
            with warnings_of(label=f"{kind} of {of}"):
                result, extra = FITTED[kind].run(self, settings, split, fitted)
            folder.write(
                analysis_path(kind),
                {
                    "kind": kind,
                    "fingerprint": meta["analysis_fingerprints"][kind],
                    "settings": settings,
                    "result": encode(result),
                    **extra,
                },
            )

    def _holdout(self, test_size: float):
        seed = int(draw_seeds(self.random_state, len(self._splits) + 1)[-1])
        parts = train_test_split(
            self._X,
            self._y,
            test_size=test_size,
            random_state=seed,
            stratify=self._y if self._classifier else None,
        )
        return seed, parts

    # ------------------------------------------------------------------ results

    def _last_run(self) -> RunResults:
        if not hasattr(self, "run_"):
            raise AttributeError(
                "This Experiment has not run yet: call run(run_dir) first, or read an "
                "earlier run with ensemblekit.experiment.load_run(run_dir)."
            )
        return self.run_

    @property
    def results(self):
        """The last run's table: one row per model, fold and scorer (see
        :attr:`RunResults.results`)."""
        return self._last_run().results

    @property
    def comparison(self):
        """The last run's comparison tables (see :attr:`RunResults.comparison`)."""
        return self._last_run().comparison

    def __repr__(self) -> str:
        return (
            f"Experiment({self.name!r}: models {list(self._models)}, {len(self._splits)} "
            f"folds, scoring {list(self._scorers)}, analyses {list(self._analyses)})"
        )


def _models_digested(settings: dict, models: dict):
    """What a fitted analysis's fingerprint holds of the models: the one it names, or every
    model's description when it names none (``every_model``)."""
    if settings["model"] is None:
        return [models[name] for name in sorted(models)]
    return models.get(settings["model"])
