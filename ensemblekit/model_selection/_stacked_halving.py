"""Successive halving of net candidates, each round's fits trained as stacked models.

scikit-learn's halving searches run the rounds: all candidates on a small resource, the
best third on three times as much, and so on. Here each round's candidates x folds train
through the member engine, stacked, before the search's loop scores them; the rounds,
the elimination, ``cv_results_`` and the refit are scikit-learn's own. The resource is a
net's ``max_epochs`` by default (or ``n_samples``, or any integer parameter of the net).
"""

from __future__ import annotations

import numpy as np
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

from ._stacked_search import _SHARED_DOC, _StackedSearchMixin


class _StackedHalvingMixin(_StackedSearchMixin):
    def fit(self, X, y=None, *, groups=None, **params):
        if self.max_resources != "auto" or self.resource == "n_samples":
            return super().fit(X, y, groups=groups, **params)
        # "auto" for a parameter of the net: its own value (scikit-learn's "auto" is the
        # number of rows, for n_samples only). Set for this fit, then put back.
        self.max_resources = self._most_resources()
        try:
            return super().fit(X, y, groups=groups, **params)
        finally:
            self.max_resources = "auto"

    fit.__doc__ = _StackedSearchMixin.fit.__doc__

    def _most_resources(self) -> int:
        value = self.estimator.get_params().get(self.resource)
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
            raise ValueError(
                f"max_resources='auto' takes the most {self.resource} from the estimator, "
                f"whose {self.resource} is {value!r}: pass max_resources as an int."
            )
        return int(value)

    def _search_rounds(self, evaluate, random_state, context):
        """scikit-learn's rounds, each through ``evaluate``."""
        return super(_StackedSearchMixin, self)._run_search(evaluate, **context)


_HALVING_DOC = """
    Each round's candidates are trained on every fold before the search's loop scores
    them. With the default ``resource="max_epochs"``, round ``i`` trains the candidates
    left for ``min_resources_ * factor**i`` epochs, up to ``max_resources`` (by default
    the estimator's ``max_epochs``); ``resource="n_samples"`` gives each round more rows
    instead, as scikit-learn's default does. Each round's fits start from scratch, as in
    scikit-learn's halving search, so the scores, the elimination and ``cv_results_``
    (with its ``iter`` and ``n_resources`` columns) agree with scikit-learn's search over
    the same nets, folds and seeds; ``best_params_`` includes the resource.
"""


class StackedHalvingGridSearchCV(_StackedHalvingMixin, HalvingGridSearchCV):
    """Successive halving over a grid of net parameters, each round's fits trained as
    stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.HalvingGridSearchCV`, with ``resource="max_epochs"``
    and ``max_resources="auto"`` (the estimator's ``max_epochs``) by default.
    {halving}{shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier or NeuralNetRegressor
    param_grid : dict or list of dicts
    factor : int or float, default=3
        The proportion of candidates kept each round is ``1 / factor``, and the
        resource grows by ``factor``.
    resource : str, default="max_epochs"
        "max_epochs", "n_samples", or another integer parameter of the estimator.
    max_resources : int or "auto", default="auto"
        The most resource a candidate gets: "auto" is the estimator's own value of the
        resource (the number of rows for "n_samples").
    min_resources : int, "exhaust" or "smallest", default="exhaust"
        The resource of the first round, as in scikit-learn.
    aggressive_elimination : bool, default=False
    cv : int, cross-validation generator or iterable, default=5
        It must give the same folds at every call (an int, or a splitter with an int
        ``random_state``).
    scoring : str, callable or None, default=None
    refit : bool or callable, default=True
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=True
    random_state : None, int or RandomState, default=None
        Seeds of nets whose ``random_state`` is None (one per fold), and the rows of each
        round for ``resource="n_samples"``.
    n_jobs : int or None, default=None
        Workers for training (stacked tasks are split between them).
    verbose : int, default=0

    {attributes}
    See Also
    --------
    StackedHalvingRandomSearchCV : the same over sampled candidates.
    StackedGridSearchCV : every candidate on the whole resource.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedHalvingGridSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=9, random_state=0)
    >>> grid = {{"lr": [1e-3, 3e-3, 1e-2, 3e-2], "optimizer__weight_decay": [0.0, 1e-4]}}
    >>> search = StackedHalvingGridSearchCV(net, grid, cv=3).fit(X, y)
    >>> search.n_candidates_, search.n_resources_
    ([8, 3], [3, 9])
    >>> search.best_params_["max_epochs"]
    9
    """

    def __init__(
        self, estimator, param_grid, *, factor=3, resource="max_epochs", max_resources="auto",
        min_resources="exhaust", aggressive_elimination=False, cv=5, scoring=None,
        refit=True, error_score=np.nan, return_train_score=True, random_state=None,
        n_jobs=None, verbose=0,
    ):  # fmt: skip
        super().__init__(
            estimator, param_grid, factor=factor, resource=resource,
            max_resources=max_resources, min_resources=min_resources,
            aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
            refit=refit, error_score=error_score, return_train_score=return_train_score,
            random_state=random_state, n_jobs=n_jobs, verbose=verbose,
        )  # fmt: skip


class StackedHalvingRandomSearchCV(_StackedHalvingMixin, HalvingRandomSearchCV):
    """Successive halving over sampled net parameters, each round's fits trained as
    stacked models.

    The parameters, attributes and methods are those of scikit-learn's
    :class:`~sklearn.model_selection.HalvingRandomSearchCV`, with
    ``resource="max_epochs"`` and ``max_resources="auto"`` (the estimator's
    ``max_epochs``) by default; ``random_state`` draws the candidates too.
    {halving}{shared}
    Parameters
    ----------
    estimator : NeuralNetClassifier or NeuralNetRegressor
    param_distributions : dict or list of dicts
    n_candidates : int or "exhaust", default="exhaust"
    factor : int or float, default=3
    resource : str, default="max_epochs"
    max_resources : int or "auto", default="auto"
    min_resources : int, "exhaust" or "smallest", default="smallest"
    aggressive_elimination : bool, default=False
    cv : int, cross-validation generator or iterable, default=5
    scoring : str, callable or None, default=None
    refit : bool or callable, default=True
    error_score : "raise" or numeric, default=np.nan
    return_train_score : bool, default=True
    random_state : None, int or RandomState, default=None
    n_jobs : int or None, default=None
    verbose : int, default=0

    {attributes}
    See Also
    --------
    StackedHalvingGridSearchCV : the same over a grid.
    StackedRandomizedSearchCV : every candidate on the whole resource.

    Examples
    --------
    >>> from scipy.stats import loguniform
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.preprocessing import StandardScaler
    >>> from ensemblekit.model_selection import StackedHalvingRandomSearchCV
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> net = NeuralNetClassifier(max_epochs=9, random_state=0)
    >>> space = {{"lr": loguniform(1e-3, 1e-1)}}
    >>> search = StackedHalvingRandomSearchCV(
    ...     net, space, n_candidates=9, min_resources=1, cv=3, random_state=0
    ... ).fit(X, y)
    >>> search.n_candidates_, search.n_resources_
    ([9, 3, 1], [1, 3, 9])
    """

    def __init__(
        self, estimator, param_distributions, *, n_candidates="exhaust", factor=3,
        resource="max_epochs", max_resources="auto", min_resources="smallest",
        aggressive_elimination=False, cv=5, scoring=None, refit=True, error_score=np.nan,
        return_train_score=True, random_state=None, n_jobs=None, verbose=0,
    ):  # fmt: skip
        super().__init__(
            estimator, param_distributions, n_candidates=n_candidates, factor=factor,
            resource=resource, max_resources=max_resources, min_resources=min_resources,
            aggressive_elimination=aggressive_elimination, cv=cv, scoring=scoring,
            refit=refit, error_score=error_score, return_train_score=return_train_score,
            random_state=random_state, n_jobs=n_jobs, verbose=verbose,
        )  # fmt: skip


_ATTRIBUTES = """Attributes
    ----------
    n_resources_, n_candidates_, n_remaining_candidates_, max_resources_, min_resources_,
    n_iterations_, n_possible_iterations_, n_required_iterations_, cv_results_,
    best_estimator_, best_score_, best_params_, best_index_, scorer_, n_splits_,
    refit_time_, multimetric_ : as in scikit-learn's {search}
    stacked_groups_ : list of dict
        Per round and group of candidates sharing an architecture: ``params`` (what they
        share, the round's resource included), ``n_fits``, ``stacked``, ``reason`` and
        ``seconds``.
"""
for _cls, _search in [
    (StackedHalvingGridSearchCV, "HalvingGridSearchCV"),
    (StackedHalvingRandomSearchCV, "HalvingRandomSearchCV"),
]:
    _cls.__doc__ = _cls.__doc__.format(
        halving=_HALVING_DOC, shared=_SHARED_DOC, attributes=_ATTRIBUTES.format(search=_search)
    )
