"""Snapshot ensembles and fast geometric ensembles: M members from one training run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import ClassVar

from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet

from ..averaging import SnapshotCollector
from ..engine import MemberPlan, fit_members
from ..utils._mixins import all_or_nothing
from ..utils._private import Interval, StrOptions
from ..utils._random import draw_seeds
from ..utils._torch import net_with_state
from ._base import (
    RENAMED_COUNT,
    AveragingRegressorMixin,
    MemberEnsembleMixin,
    SoftVotingClassifierMixin,
    renamed_count,
    with_fit_params_doc,
)

_COLLECTOR = "snapshot_ensemble"

_PARAMS_DOC = """

    Parameters
    ----------
    estimator : skorch net or None, default=None
        The net trained once, for its ``max_epochs``; None uses a default ``{net}``. Its
        optimizer's learning rate is replaced by the cyclic one.
    n_estimators : int, default=5
        Number of learning-rate cycles, and of members (snapshots). The run's ``max_epochs x batches
        per epoch`` iterations are split into nearly equal cycles, so epochs need not be
        divisible by it; it must not exceed the number of iterations.
    schedule : {{"cosine", "triangular"}}, default="cosine"
        Shape of each cycle, with the learning rate set every iteration. "cosine" is Huang
        et al.'s (2017) ``lr_max / 2 * (cos(pi * mod(t - 1, ceil(T/M)) / ceil(T/M)) + 1)``
        (shifted up by ``lr_min``); "triangular" is FGE's piecewise-linear cycle (Garipov et
        al. 2018), phased to rise from ``lr_min`` to ``lr_max`` at mid-cycle and fall back
        to ``lr_min`` where the snapshot is taken.
    lr_max : float or None, default=None
        Learning rate at the top of a cycle; None uses the net's ``lr``.
    lr_min : float, default=0.0
        Learning rate at the bottom of a cycle.
    n_average : int or None, default=None
        Predictions average the last ``n_average`` snapshots (None: all). Read at
        prediction time, so ``ens.set_params(n_average=2)`` after fit needs no refit.
    random_state : None, int or RandomState, default=None
        Seeds the run (initialisation, shuffling, dropout) when the net's own
        ``random_state`` is None; a net the user seeded keeps its seed.
    verbose : int, default=0
        > 0 prints a line as each snapshot is taken (set the net's own ``verbose`` for its
        per-epoch table). The run is one training, so there is no ``n_jobs``: members of
        several runs train in parallel in a ``DeepEnsembleClassifier`` or ``Regressor``.
    n_snapshots : int, default="deprecated"
        Former name of ``n_estimators``; it still works, with a ``FutureWarning``, until
        0.3.
"""

_ATTRIBUTES_DOC = """

    Attributes
    ----------
    estimator_ : estimator
        The validated template every member clones (the default net when ``estimator``
        is None).
    estimators_ : list of nets
        One fitted net per snapshot, oldest first (also ``len(ens)``, ``ens[i]``,
        iteration); the last has the run's final weights. Each member's ``history`` holds
        the run, the learning rate of every batch included (``"lr"``).
    snapshot_iterations_ : list of int
        Training iteration (1-based) at which each snapshot was taken."""


class _BaseSnapshotEnsemble(MemberEnsembleMixin, BaseEstimator):
    _parameter_constraints: ClassVar[dict] = {
        "estimator": [NeuralNet, None],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "n_snapshots": RENAMED_COUNT,
        "schedule": [StrOptions(set(SnapshotCollector.SCHEDULES))],
        "lr_max": [Interval(Real, 0, None, closed="neither"), None],
        "lr_min": [Interval(Real, 0, None, closed="left")],
        "n_average": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        n_estimators=5,
        *,
        schedule="cosine",
        lr_max=None,
        lr_min=0.0,
        n_average=None,
        random_state=None,
        verbose=0,
        n_snapshots="deprecated",
    ):
        self.estimator = estimator
        self.n_estimators = n_estimators
        self.n_snapshots = n_snapshots
        self.schedule = schedule
        self.lr_max = lr_max
        self.lr_min = lr_min
        self.n_average = n_average
        self.random_state = random_state
        self.verbose = verbose

    @all_or_nothing
    @with_fit_params_doc
    def fit(self, X, y, sample_weight=None, **fit_params):
        """Train the net once with a cyclic learning rate and keep a member per cycle.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Passed to the net.
        {fit_params}

        Returns
        -------
        self
        """
        self._validate_params()
        if self.lr_max is not None and self.lr_max < self.lr_min:
            raise ValueError(f"lr_max={self.lr_max!r} is below lr_min={self.lr_min!r}.")
        X, y, sample_weight = self._validate_fit_data(X, y, sample_weight)
        fit_params = self._member_fit_params(fit_params)
        template = self._template()
        self._check_template(template)
        callbacks = template.callbacks
        if isinstance(callbacks, str):
            raise ValueError(
                f"{type(self).__name__} collects snapshots with a callback, so the net's "
                f"callbacks cannot be {callbacks!r}; pass a list (or None)."
            )
        collector = SnapshotCollector(
            renamed_count(self, "n_snapshots"), schedule=self.schedule, lr_max=self.lr_max,
            lr_min=self.lr_min, verbose=self.verbose,
        )  # fmt: skip
        net = clone(template).set_params(callbacks=[*(callbacks or []), (_COLLECTOR, collector)])
        # The member engine runs the one training run: threads and seeds as everywhere else.
        (seed,) = draw_seeds(self.random_state, 1)
        plan = MemberPlan(int(seed), sample_weight=sample_weight)
        (run,) = fit_members(
            net, X, y, [plan], reseed="unset", fit_params=fit_params, engine="joblib"
        )
        fitted = dict(run.callbacks_)[_COLLECTOR]
        # Members are copies of the run: leave the snapshots out of what gets copied.
        states, fitted.snapshots_ = fitted.snapshots_, []
        self.estimators_ = [net_with_state(run, state) for state in states]
        self.snapshot_iterations_ = list(fitted.snapshot_iterations_)
        return self

    @classmethod
    def from_checkpoints(cls, net, checkpoints: Sequence, *, n_average: int | None = None):
        """An ensemble whose members are ``net`` with the weights of each checkpoint.

        The "different checkpoints of a single model" ensemble: checkpoints saved during
        one run (skorch's ``Checkpoint``, ``net.save_params(f_params=...)``, a
        :class:`~ensemblekit.averaging.SnapshotCollector`), or state dicts of nets
        fine-tuned from one start. Predictions average the members as ``fit``'s do.

        Parameters
        ----------
        net : fitted skorch net
            Gives the architecture, classes and input checks; not modified.
        checkpoints : sequence of state dicts or paths
            Module state dicts, or files holding one (``torch.save`` format), oldest first.
        n_average : int or None, default=None
            Average the last ``n_average`` checkpoints (None: all).

        Returns
        -------
        ensemble : fitted SnapshotEnsembleClassifier or SnapshotEnsembleRegressor
            With ``estimator=net``; ``fit`` would train a new snapshot run of it.
        """
        if not isinstance(net, NeuralNet):
            raise ValueError(f"from_checkpoints needs a fitted skorch net, got {type(net)}.")
        check_is_fitted(net)
        checkpoints = list(checkpoints)
        if not checkpoints:
            raise ValueError("checkpoints is empty; pass state dicts or paths of saved ones.")
        for index, checkpoint in enumerate(checkpoints):
            if not isinstance(checkpoint, Mapping | str) and not hasattr(checkpoint, "__fspath__"):
                raise ValueError(
                    f"Checkpoint {index} is a {type(checkpoint).__name__}; pass state dicts "
                    "or file paths."
                )
        ensemble = cls(net, n_estimators=len(checkpoints), n_average=n_average)
        ensemble.estimators_ = [
            net_with_state(net, state, what=f"checkpoint {index}")
            for index, state in enumerate(checkpoints)
        ]
        ensemble.snapshot_iterations_ = [None] * len(checkpoints)
        ensemble.n_features_in_ = net.n_features_in_
        if hasattr(net, "feature_names_in_"):
            ensemble.feature_names_in_ = net.feature_names_in_
        if hasattr(net, "classes_"):
            ensemble.classes_ = net.classes_
        return ensemble

    def _combined_indices(self) -> range:
        n_members = len(self)
        n_average = n_members if self.n_average is None else self.n_average
        if (
            isinstance(n_average, bool)
            or not isinstance(n_average, Integral)
            or not 1 <= n_average <= n_members
        ):
            raise ValueError(
                f"n_average must be None or an int in [1, {n_members}] (the number of "
                f"snapshots), got {self.n_average!r}."
            )
        return range(n_members - n_average, n_members)


class SnapshotEnsembleClassifier(SoftVotingClassifierMixin, _BaseSnapshotEnsemble):
    __doc__ = (
        """Snapshot ensemble of a net classifier: M members for the cost of one training run.

    The net trains once for its ``max_epochs`` while the learning rate restarts ``n_estimators``
    times; each cycle ends in a different low-loss point, kept as a member (Huang et al.
    2017; with ``schedule="triangular"``, fast geometric ensembling, Garipov et al. 2018).
    Prediction averages the members' probabilities (soft voting)."""
        + _PARAMS_DOC.format(net="NeuralNetClassifier()")
        + _ATTRIBUTES_DOC
        + """
    classes_ : ndarray of shape (n_classes,)

    See Also
    --------
    SnapshotEnsembleRegressor : the same for regression.
    DeepEnsembleClassifier : independent runs: costlier, more diverse.
    ensemblekit.averaging.SnapshotCollector : the callback that keeps the snapshots.
    ensemblekit.averaging.SWA : one averaged net instead of several.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.ensemble import SnapshotEnsembleClassifier
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> ens = SnapshotEnsembleClassifier(NeuralNetClassifier(max_epochs=10), n_estimators=3,
    ...                                  random_state=0).fit(X, y)
    >>> len(ens), ens.predict_proba(X[:1]).shape
    (3, (1, 3))
    >>> ens.set_params(n_average=2).predict(X[:2]).shape
    (2,)
    """
    )


class SnapshotEnsembleRegressor(AveragingRegressorMixin, _BaseSnapshotEnsemble):
    __doc__ = (
        """Snapshot ensemble of a net regressor: M members for the cost of one training run.

    As :class:`SnapshotEnsembleClassifier`, averaging the members' predictions."""
        + _PARAMS_DOC.format(net="NeuralNetRegressor()")
        + _ATTRIBUTES_DOC
        + """

    See Also
    --------
    SnapshotEnsembleClassifier : the same for classification.
    DeepEnsembleRegressor : independent runs: costlier, more diverse.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from ensemblekit.ensemble import SnapshotEnsembleRegressor
    >>> from ensemblekit.nets import NeuralNetRegressor
    >>> X, y = make_regression(n_samples=60, n_features=3, random_state=0)
    >>> ens = SnapshotEnsembleRegressor(NeuralNetRegressor(max_epochs=10), n_estimators=3,
    ...                                 random_state=0).fit(X, y / y.std())
    >>> len(ens), ens.predict(X[:2]).shape
    (3, (2,))
    """
    )
