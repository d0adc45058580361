"""Optuna trials of a net, asked in batches and trained folds and all as one stacked model.

Each batch of ``batch_size`` trials is asked of the study at once (ask-and-tell), and its
trials x folds train through the member engine as stacked members. After every epoch the
search scores each member on its fold's test rows and reports each trial's mean to the
study (``trial.report``); a trial the study's pruner stops leaves the stack at once, its
slots freed, and is told PRUNED. A trial that trains to the end is told its CV score.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from copy import deepcopy
from dataclasses import dataclass
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils import check_X_y, get_tags, indexable
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..engine import fit_candidates
from ..metrics import check_scoring
from ..nets import NeuralNetClassifier, NeuralNetRegressor
from ..utils._fit_warnings import warn_user, warnings_of
from ..utils._random import MAX_SEED, check_random_state, draw_seeds, set_random_states
from ._stacked_search import _fold_rows, _net_params, by_steps, folds_in_a_row


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ImportError(
            "StackedOptunaSearchCV needs optuna, which is not installed: "
            "pip install 'ensemblekit[optuna]'"
        ) from None
    return optuna


class StackedOptunaSearchCV(MetaEstimatorMixin, BaseEstimator):
    """Optuna's search over net parameters, its trials asked in batches and trained with
    every fold as one stacked model, pruned epoch by epoch.

    In the manner of optuna-integration's ``OptunaSearchCV``: ``param_distributions``
    holds Optuna distributions, the study's sampler proposes the trials and its pruner
    stops them. Each batch of ``batch_size`` trials is asked at once; its trials x folds
    train as stacked members (candidates that differ in anything other than ``lr`` and
    ``optimizer__*`` form stacks of their own). After every epoch each member is scored on
    its fold's test rows and each trial's mean is reported (``trial.report(score,
    epoch)``); a trial the pruner stops leaves the stack at once and is told PRUNED.
    Trials that train to the end are told their mean CV score.

    Parameters
    ----------
    estimator : NeuralNetClassifier, NeuralNetRegressor, or a Pipeline ending in one
        A Pipeline's steps before the net fit once per fold (per setting of theirs a
        trial samples), and its trials' nets train stacked on the transformed rows.
    param_distributions : dict of str to optuna.distributions.BaseDistribution
        Net parameters and their distributions (``FloatDistribution(1e-4, 1e-1,
        log=True)`` for ``lr``).
    n_trials : int, default=10
    batch_size : int, default=8
        Trials asked of the study, and trained, at once.
    cv : int, cross-validation generator or iterable, default=5
    study : optuna.Study or None, default=None
        A study to maximize the score in; None creates one in memory with a seeded TPE
        sampler and Optuna's MedianPruner.
    scoring : str, callable or None, default=None
        One scorer, as in scikit-learn (None: the estimator's ``score``).
    refit : bool, default=True
        Fit the best trial's parameters on all of X as ``best_estimator_``.
    timeout : float or None, default=None
        Seconds (positive) after which no new batch is asked.
    callbacks : list of callable or None, default=None
        ``callback(study, frozen_trial)`` after each trial is told, as Optuna's
        ``study.optimize`` calls them.
    error_score : "raise" or numeric, default=np.nan
        The fold scores of a trial whose fit fails (an invalid setting such as ``lr < 0``,
        a fit whose loss became NaN, outputs that cannot be scored): the trial is told
        FAIL and the search goes on; at the end one ``FitFailedWarning`` names each failed
        trial, its parameters and its error. When every trial failed with one and the
        same error (one class in y), that error is raised: it is the data's. With
        "raise", the first error is raised, with a note naming the trial and its
        parameters, after every trial asked is told FAIL.
    random_state : None, int or RandomState, default=None
        The seeds of nets whose ``random_state`` is None (one per fold, and the refit's)
        and of the sampler of a study made here.
    verbose : int, default=0

    Attributes
    ----------
    study_ : optuna.Study
    trials_ : list of optuna.trial.FrozenTrial
        The trials this fit told, in order.
    cv_results_ : dict of str to ndarray
        Per trial: ``params``, ``param_<name>``, ``state`` ("COMPLETE", "PRUNED" or
        "FAIL"),
        ``n_epochs`` (epochs trained), ``split<i>_test_score`` (a pruned trial's at its
        last reported epoch), ``mean_test_score``, ``std_test_score`` and
        ``rank_test_score`` (pruned trials rank after the complete ones, failed ones
        last).
    best_params_ : dict
    best_score_ : float
    best_index_ : int
    best_trial_ : optuna.trial.FrozenTrial
        The best complete trial of this fit, as optuna-integration's ``OptunaSearchCV``
        names it.
    best_estimator_ : estimator
        With ``refit=True``.
    n_splits_ : int

    See Also
    --------
    StackedHalvingGridSearchCV : successive halving over epochs.
    StackedRandomizedSearchCV : every sampled candidate trained to the end.

    Examples
    --------
    >>> import optuna
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedOptunaSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> optuna.logging.set_verbosity(optuna.logging.WARNING)
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> space = {"lr": optuna.distributions.FloatDistribution(1e-3, 1e-1, log=True)}
    >>> net = NeuralNetClassifier(max_epochs=10, random_state=0)
    >>> search = StackedOptunaSearchCV(net, space, n_trials=8, batch_size=4, cv=3, random_state=0)
    >>> len(search.fit(X, y).trials_), sorted(search.best_params_)
    (8, ['lr'])
    """

    def __init__(
        self, estimator, param_distributions, *, n_trials=10, batch_size=8, cv=5, study=None,
        scoring=None, refit=True, timeout=None, callbacks=None, error_score=np.nan,
        random_state=None, verbose=0,
    ):  # fmt: skip
        self.estimator = estimator
        self.param_distributions = param_distributions
        self.n_trials = n_trials
        self.batch_size = batch_size
        self.cv = cv
        self.study = study
        self.scoring = scoring
        self.refit = refit
        self.timeout = timeout
        self.callbacks = callbacks
        self.error_score = error_score
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y=None, *, groups=None):
        """Ask, train and tell batches of trials until ``n_trials`` (or ``timeout``), then
        refit the best.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter.

        Returns
        -------
        self
        """
        with warnings_of(type(self).__name__, noun="fits"):  # one per kind, refit included
            return self._fit(X, y, groups)

    def _fit(self, X, y, groups):
        optuna = _optuna()
        self._check_params(optuna)
        if not isinstance(self.estimator, Pipeline):  # a Pipeline's steps take X as it is
            check_X_y(X, y, dtype=None, multi_output=True, y_numeric=False)
        X, y = (np.asarray(v) if isinstance(v, list | tuple) else v for v in (X, y))
        X, y = indexable(X, y)
        if is_classifier(self.estimator) and np.ndim(y) == 2 and np.shape(y)[1] == 1:
            y = column_or_1d(y, warn=True)  # a column of labels: as the nets take it
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        cv = check_cv(self.cv, y, classifier=is_classifier(self.estimator))
        splits = list(cv.split(X, y, groups))
        random_state = check_random_state(self.random_state)
        seeds = draw_seeds(random_state, len(splits) + 1)
        study = self.study
        if study is None:
            sampler = optuna.samplers.TPESampler(seed=int(random_state.randint(MAX_SEED)))
            study = optuna.create_study(
                direction="maximize", sampler=sampler, pruner=optuna.pruners.MedianPruner()
            )
        start, told, results = time.monotonic(), [], []
        asked = []  # the batch in training: each is told FAIL if the search stops
        stopped = False  # the sampler stopped the study (a grid sampler's grid is done)
        try:
            while len(told) < self.n_trials and not stopped:
                if self.timeout is not None and time.monotonic() - start > self.timeout:
                    break
                size = min(self.batch_size, self.n_trials - len(told))
                asked = [study.ask(self.param_distributions) for _ in range(size)]
                batch = self._train(asked, X, y, splits, seeds, scorer)
                for trial, result in zip(list(asked), batch, strict=True):
                    frozen, stop = _tell(study, trial, result, optuna)
                    stopped = stopped or stop
                    asked.remove(trial)
                    told.append(frozen)
                    results.append(result)
                    for callback in self.callbacks or []:
                        callback(study, frozen)
        except BaseException:  # an error, error_score="raise", Ctrl-C: no trial left RUNNING
            for trial in asked:
                with contextlib.suppress(Exception):
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        # All or nothing: the fitted attributes are set once nothing can fail any more.
        cv_results = _cv_results(told, results, len(splits))
        _raise_or_warn_about_failures(results, self.error_score)
        complete = [i for i, r in enumerate(results) if _state(r) == "COMPLETE"]
        if not complete:
            raise ValueError(_none_complete(results, self.timeout))
        best_index = int(max(complete, key=lambda i: cv_results["mean_test_score"][i]))
        best_params = dict(told[best_index].params)
        fitted = {
            "study_": study, "trials_": told, "n_splits_": len(splits),
            "cv_results_": cv_results, "best_index_": best_index, "best_params_": best_params,
            "best_score_": float(cv_results["mean_test_score"][best_index]),
            "best_trial_": told[best_index],
        }  # fmt: skip
        if self.refit:
            best = clone(self.estimator).set_params(**best_params)
            fitted["best_estimator_"] = set_random_states(best, seeds[-1], only_unset=True).fit(
                X, y
            )
        else:
            vars(self).pop("best_estimator_", None)
        vars(self).update(fitted)
        return self

    def _check_params(self, optuna) -> None:
        net = self.estimator[-1] if isinstance(self.estimator, Pipeline) else self.estimator
        if not isinstance(net, NeuralNetClassifier | NeuralNetRegressor):
            raise ValueError(
                "estimator must be an ensemblekit NeuralNetClassifier or NeuralNetRegressor, "
                f"or a Pipeline that ends in one, got {type(self.estimator).__name__}."
            )
        if not isinstance(self.param_distributions, dict) or not all(
            isinstance(d, optuna.distributions.BaseDistribution)
            for d in self.param_distributions.values()
        ):
            raise ValueError(
                "param_distributions must map parameter names to Optuna distributions, such "
                "as {'lr': optuna.distributions.FloatDistribution(1e-4, 1e-1, log=True)}."
            )
        for name, value in [("n_trials", self.n_trials), ("batch_size", self.batch_size)]:
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, Real)
            or not (0 < self.timeout < np.inf)
        ):
            raise ValueError(
                f"timeout must be None or a positive number of seconds, got {self.timeout!r}."
            )
        if not (self.error_score == "raise" or isinstance(self.error_score, Real)):
            raise ValueError(
                f"error_score must be 'raise' or a number (np.nan by default), got "
                f"{self.error_score!r}."
            )
        if self.study is not None and self.study.direction != optuna.study.StudyDirection.MAXIMIZE:
            raise ValueError(
                "study must maximize: the search reports scores, where greater is better "
                "(scikit-learn's convention; neg_log_loss for a loss). Create it with "
                "direction='maximize'."
            )

    def _train(self, trials, X, y, splits, seeds, scorer) -> list[dict]:
        """Train a batch's trials x folds stacked, reporting each epoch; per trial its
        test scores, epochs trained, whether it was pruned, and the error it failed with.

        A trial whose settings stop its fit from starting fails at once. When a stack's
        fit raises (a trial whose loss became NaN), its trials train again one by one, so
        that only the one at fault fails."""
        n_folds = len(splits)
        part_of = {
            t: part
            for part in _fold_data(self.estimator, X, y, splits, trials)
            for t in part.trials
        }
        results = [
            {
                "scores": [np.nan] * n_folds,
                "epochs": 0,
                "pruned": False,
                "error": None,
                "exception": None,
            }
            for _ in trials
        ]
        reported = set()  # (trial, epoch) told to the study: a retried trial's are not

        def scored_each_epoch():
            """The stack's ``on_epoch_end``: score each member on its fold's test rows,
            report each trial's mean once all its folds are in, stop the pruned."""
            epochs = defaultdict(dict)  # (trial, epoch) -> fold -> score

            def on_epoch_end(keys, members):
                done = set()
                for (t, fold), member in zip(keys, members, strict=True):
                    epoch = len(member.history)
                    results[t]["epochs"] = epoch
                    try:
                        test = part_of[t].tests[fold]
                        epochs[t, epoch][fold] = _finite(scorer(member, *test))
                    except Exception as error:  # outputs that cannot be scored
                        self._fail(trials[t], results[t], error, f"epoch {epoch}, fold {fold}")
                    if results[t]["error"] is not None or len(epochs[t, epoch]) < n_folds:
                        continue  # failed, or folds of the trial in another stack
                    done.add((t, epoch))
                for t, epoch in sorted(done):
                    results[t]["scores"] = [epochs[t, epoch][f] for f in range(n_folds)]
                    if (t, epoch) not in reported:
                        reported.add((t, epoch))
                        trials[t].report(float(np.mean(results[t]["scores"])), epoch)
                    if trials[t].should_prune():
                        results[t]["pruned"] = True
                return [
                    key for key in keys if results[key[0]]["pruned"] or results[key[0]]["error"]
                ]

            return on_epoch_end

        def train(which, on_error):
            part = part_of[which[0]]
            fits = fit_candidates(
                part.estimator, part.X, part.y, part.candidates, part.splits, seeds,
                which=which, n_jobs=1, verbose=self.verbose, on_epoch_end=scored_each_epoch(),
                on_invalid=lambda t, error: self._fail(trials[t], results[t], error,
                                                       "its settings"),
                on_error=on_error,
            )  # fmt: skip
            for (t, fold), member in sorted(fits.members.items()):
                if results[t]["pruned"] or results[t]["error"] is not None:
                    continue
                try:  # the final weights (early stopping restores)
                    test = part.tests[fold]
                    results[t]["scores"][fold] = _finite(scorer(member, *test))
                except Exception as error:
                    self._fail(trials[t], results[t], error, f"fold {fold}")
                results[t]["epochs"] = len(member.history)

        def alone(group, error):
            """A trial that failed on its own: it fails (the search goes on)."""
            if _names_its_trial(error):  # error_score="raise": the trial is named
                raise error
            self._fail(trials[group[0]], results[group[0]], error, "its fit")

        def each_alone(group, error):
            """A stack that failed: which of its trials fails, each trial on its own."""
            if _names_its_trial(error) or len(group) == 1:
                return alone(group, error)
            for t in group:
                if not (results[t]["pruned"] or results[t]["error"] is not None):
                    train([t], alone)

        for part in dict.fromkeys(part_of.values()):  # each once, in the trials' order
            train(part.trials, each_alone)
        return results

    def _fail(self, trial, result: dict, error: Exception, where: str) -> None:
        """Record that ``trial`` failed (its fold scores ``error_score``); with
        ``error_score="raise"``, raise ``error`` with a note naming the trial."""
        params = ", ".join(f"{k}={v!r}" for k, v in trial.params.items())
        message = f"Trial {trial.number} ({params}) failed in {where}: {error}"
        if self.error_score == "raise":
            error.add_note(message)
            raise error
        result["error"], result["exception"] = message, error
        result["scores"] = [self.error_score] * len(result["scores"])

    def trials_dataframe(self, **kwargs):
        """The study's trials as a pandas DataFrame (``study_.trials_dataframe``), as
        optuna-integration's ``OptunaSearchCV`` gives them.

        Parameters
        ----------
        **kwargs
            Passed to ``optuna.Study.trials_dataframe`` (``attrs``, ``multi_index``).

        Returns
        -------
        trials : pandas.DataFrame
            Every trial of the study, this fit's and any it held before.
        """
        check_is_fitted(self, "study_")
        return self.study_.trials_dataframe(**kwargs)

    @property
    def n_features_in_(self) -> int:
        """Columns of X seen during fit (with ``refit=True``)."""
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(f"{type(self).__name__} has no n_features_in_ before fit.")
        return self.best_estimator_.n_features_in_

    @property
    def classes_(self) -> np.ndarray:
        """Class labels (a classifier net, with ``refit=True``)."""
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(f"{type(self).__name__} has no classes_ before fit.")
        return self.best_estimator_.classes_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator_tags = get_tags(self.estimator)
        tags.estimator_type = estimator_tags.estimator_type
        tags.classifier_tags = deepcopy(estimator_tags.classifier_tags)
        tags.regressor_tags = deepcopy(estimator_tags.regressor_tags)
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = False
        return tags

    def predict(self, X):
        """The best estimator's prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict(X)

    def predict_proba(self, X):
        """The best estimator's class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self, "best_estimator_")
        return self.best_estimator_.predict_proba(X)

    def score(self, X, y):
        """The best estimator scored on X, y with the search's scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        score : float
        """
        check_is_fitted(self, "best_estimator_")
        return check_scoring(self.estimator, scoring=self.scoring)(self.best_estimator_, X, y)


@dataclass(eq=False)
class _Part:
    """Trials that train on the same rows: all of them for a net; for a Pipeline, those
    that share the steps before the net, which are fitted once per fold. ``X`` holds the
    folds' training rows as the net sees them, one fold after another (``splits`` says
    where), ``tests`` each fold's test rows as the net sees them, and ``candidates`` every
    trial's parameters as the net names them."""

    trials: list
    estimator: object
    X: object
    y: object
    splits: list
    tests: list
    candidates: list


def _fold_data(estimator, X, y, splits, trials) -> list[_Part]:
    """The trials' parts, for a net or a Pipeline that ends in one."""
    if not isinstance(estimator, Pipeline):
        candidates = [trial.params for trial in trials]
        tests = _fold_rows(X, y, splits, part=1)
        return [_Part(list(range(len(trials))), estimator, X, y, splits, tests, candidates)]
    name, net = estimator.steps[-1]
    candidates = [_net_params(trial.params, f"{name}__") for trial in trials]
    parts = []
    for steps, group in by_steps(estimator, [trial.params for trial in trials]):
        before, train, tests = clone(estimator).set_params(**steps)[:-1], [], []
        for fit_rows, test_rows in zip(
            _fold_rows(X, y, splits), _fold_rows(X, y, splits, 1), strict=True
        ):
            fold = clone(before)
            train.append((_dense(fold.fit_transform(*fit_rows)), fit_rows[1]))
            tests.append((_dense(fold.transform(test_rows[0])), test_rows[1]))
        X_all, y_all, fit_splits = folds_in_a_row(train)
        parts.append(_Part(group, net, X_all, y_all, fit_splits, tests, candidates))
    return parts


def _dense(rows) -> np.ndarray:
    """Rows as the stacked nets train on them (a sparse output of a step made dense, as a
    net densifies its batches)."""
    return rows.toarray() if sparse.issparse(rows) else np.asarray(rows)


def _finite(score) -> float:
    """A fold's score, which is never NaN or inf without an error."""
    if not np.isfinite(score):
        raise ValueError(f"its score is {score}: the net's outputs are not usable")
    return float(score)


def _names_its_trial(error: Exception) -> bool:
    """Whether ``error`` was raised by ``_fail``, with a note naming its trial."""
    return any(note.startswith("Trial ") for note in getattr(error, "__notes__", ()))


def _state(result: dict) -> str:
    return "FAIL" if result["error"] else "PRUNED" if result["pruned"] else "COMPLETE"


def _tell(study, trial, result: dict, optuna) -> tuple:
    """Tell the study ``trial``'s mean score (or its state, PRUNED or FAIL); the frozen
    trial, and whether the sampler asked the study to stop.

    A sampler stops a study from its ``after_trial`` (a ``GridSampler`` whose grid is done),
    which Optuna allows only inside ``study.optimize``: elsewhere ``study.stop`` raises,
    after the trial is told. Here, as in ``optimize``, the trials in training finish and
    no more are asked."""
    state = _state(result)
    value = float(np.mean(result["scores"])) if state == "COMPLETE" else None
    state = None if state == "COMPLETE" else getattr(optuna.trial.TrialState, state)
    try:
        return study.tell(trial, value, state=state), False
    except RuntimeError as error:
        if "Study.stop" not in str(error):
            raise
    return study.get_trials(deepcopy=False)[trial.number], True


def _raise_or_warn_about_failures(results: list, error_score) -> None:
    """As scikit-learn's searches do at the end: when every trial failed with one and the
    same error, it is the data's or the estimator's, so raise it; when some failed, one
    ``FitFailedWarning`` names each (the first ten)."""
    failed = [r for r in results if r["error"]]
    if not failed:
        return
    if len(failed) == len(results) and len({str(r["exception"]) for r in failed}) == 1:
        error = failed[0]["exception"]
        error.add_note(
            f"Every one of the {len(results)} trials failed with this error: it comes from "
            "the data or the estimator's own settings, not from a trial's parameters."
        )
        raise error
    named = "\n".join(r["error"] for r in failed[:10])
    more = f"\n... and {len(failed) - 10} more." if len(failed) > 10 else ""
    warn_user(
        f"{len(failed)} of {len(results)} trials failed; they are told FAIL and their fold "
        f"scores are error_score={error_score!r} (error_score='raise' stops the search at "
        f"the first instead):\n{named}{more}",
        FitFailedWarning,
    )


def _none_complete(results: list, timeout) -> str:
    """Why no trial is best: none was asked in time, or each was pruned or failed."""
    if not results:
        return (
            f"No trial was trained within timeout={timeout} s: the first batch starts only "
            "if time is left. Give a longer timeout."
        )
    states = [_state(r) for r in results]
    failed = [r["error"] for r in results if r["error"]]
    first = f" The first failure: {failed[0]}" if failed else ""
    return (
        f"None of the {len(results)} trials completed ({states.count('PRUNED')} pruned, "
        f"{len(failed)} failed): there is no best trial. Ask for more trials, give the "
        f"pruner more warm-up (n_warmup_steps), or fix what fails.{first}"
    )


def _cv_results(trials, results, n_splits: int) -> dict:
    """The trials as a ``cv_results_`` table (params, state, epochs, fold scores, rank)."""
    names = sorted({name for trial in trials for name in trial.params})
    table = {
        "params": [dict(trial.params) for trial in trials],
        **{
            f"param_{name}": np.ma.masked_array(
                [trial.params.get(name) for trial in trials],
                mask=[name not in trial.params for trial in trials],
                dtype=object,
            )
            for name in names
        },
        "state": np.array([_state(r) for r in results]),
        "n_epochs": np.array([r["epochs"] for r in results]),
    }
    scores = np.array([r["scores"] for r in results], dtype=float).reshape(len(results), n_splits)
    for fold in range(n_splits):
        table[f"split{fold}_test_score"] = scores[:, fold]
    table["mean_test_score"] = scores.mean(axis=1)
    table["std_test_score"] = scores.std(axis=1)
    # Complete trials first, by score; pruned ones after, by their last reported score;
    # failed ones last.
    order_of = {"COMPLETE": 0, "PRUNED": 1, "FAIL": 2}
    key = [
        (order_of[_state(r)], -np.nan_to_num(m, nan=-np.inf))
        for r, m in zip(results, table["mean_test_score"], strict=True)
    ]
    order = sorted(range(len(results)), key=lambda i: key[i])
    rank = np.empty(len(results), dtype=np.int32)
    rank[order] = np.arange(1, len(results) + 1)
    table["rank_test_score"] = rank
    return table
