"""Model soups (Wortsman et al. 2022): one net whose weights average several nets'."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ..metrics import check_scoring
from ..utils._fit_warnings import warn_user
from ..utils._torch import net_with_state


def _average(state_dicts: list[dict]) -> dict:
    """Mean of floating tensors; other buffers (counters) from the first state."""
    first = state_dicts[0]
    return {
        key: torch.stack([s[key] for s in state_dicts]).mean(0)
        if first[key].is_floating_point()
        else first[key].clone()
        for key in first
    }


def model_soup(estimators: Sequence, X_val, y_val, *, method: str = "uniform", scoring=None):
    """A fitted net whose weights average those of nets of one architecture.

    "uniform" averages all of them. "greedy" sorts them by held-out score and adds a net
    only if the soup's held-out score strictly improves, so on ``X_val, y_val`` the soup is
    never worse than the best single net. Soups work for nets that share a starting point
    (fine-tuned from one pretrained state, or snapshots of one run); averaging nets trained
    from different initialisations usually does not (the greedy soup then keeps the best,
    and a uniform soup that scores below every one of its nets warns).

    Parameters
    ----------
    estimators : sequence of fitted ensemblekit nets
        Same module architecture (the same parameter names and shapes).
    X_val, y_val : array-like or None
        Held-out data: "greedy" orders and picks the nets by their score on it; "uniform"
        warns when its soup scores below every net on it (None: no check).
    method : {"uniform", "greedy"}, default="uniform"
    scoring : str, callable or None, default=None
        None uses the nets' ``score`` (accuracy, R²).

    Returns
    -------
    soup : fitted net
        A copy of the first ingredient (of the best, for "greedy") with the averaged
        weights; ``soup.soup_ingredients_`` lists the indices averaged.

    See Also
    --------
    SWA : the average of one run's weights.
    ensemblekit.ensemble.DeepEnsembleClassifier : average the predictions instead of the weights.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from ensemblekit.averaging import model_soup
    >>> from ensemblekit.nets import NeuralNetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> base = NeuralNetClassifier(max_epochs=20, random_state=0).fit(X, y)
    >>> tuned = [NeuralNetClassifier(max_epochs=20, random_state=0).fit(X, y) for _ in range(2)]
    >>> soup = model_soup([base, *tuned], X, y, method="greedy")
    >>> bool(soup.score(X, y) >= max(n.score(X, y) for n in [base, *tuned]))
    True
    """
    if method not in ("uniform", "greedy"):
        raise ValueError(f"method must be 'uniform' or 'greedy', got {method!r}.")
    if hasattr(estimators, "fit"):
        raise TypeError(
            f"estimators must be a list of fitted nets, got one {type(estimators).__name__}; "
            "pass [net_a, net_b, ...]."
        )
    estimators = list(estimators)
    if not estimators:
        raise ValueError("estimators is empty; pass fitted nets of one architecture.")
    for index, net in enumerate(estimators):
        if isinstance(net, Pipeline):
            raise TypeError(
                f"estimators[{index}] is a Pipeline; a soup averages the weights of nets, so "
                "pass each pipeline's net step (pipeline[-1]), and put the soup back behind "
                "the same fitted preprocessing: make_pipeline(*pipelines[0][:-1], soup)."
            )
        check_is_fitted(net)
        if not hasattr(net, "module_"):
            raise ValueError(f"model_soup averages torch nets; got {type(net).__name__}.")
    states = [
        {k: v.detach().cpu() for k, v in net.module_.state_dict().items()} for net in estimators
    ]
    shapes = {k: tuple(v.shape) for k, v in states[0].items()}
    for index, state in enumerate(states[1:], start=1):
        if {k: tuple(v.shape) for k, v in state.items()} != shapes:
            raise ValueError(
                f"Net {index} has a different architecture from net 0 (parameter names or "
                "shapes differ); a soup averages nets of one architecture."
            )
    scorer = check_scoring(estimators[0], scoring=scoring)
    if method == "uniform":
        soup = net_with_state(estimators[0], _average(states))
        soup.soup_ingredients_ = list(range(len(estimators)))
        if X_val is not None:
            scores = [scorer(net, X_val, y_val) for net in estimators]
            _warn_if_spoilt(scorer(soup, X_val, y_val), scores)
        return soup
    if X_val is None:
        raise ValueError("method='greedy' picks nets by their score on X_val, y_val; pass them.")
    scores = [scorer(net, X_val, y_val) for net in estimators]
    order = sorted(range(len(estimators)), key=lambda i: -scores[i])
    best = order[0]
    chosen, soup, soup_score = [best], estimators[best], scores[best]
    for index in order[1:]:
        candidate = net_with_state(
            estimators[best], _average([states[i] for i in [*chosen, index]])
        )
        candidate_score = scorer(candidate, X_val, y_val)
        if candidate_score > soup_score:
            chosen, soup, soup_score = [*chosen, index], candidate, candidate_score
    soup = copy.deepcopy(soup) if soup is estimators[best] else soup
    soup.soup_ingredients_ = chosen
    return soup


def _warn_if_spoilt(soup_score: float, scores: list[float]) -> None:
    """Averaging nets from different starting points lands between their minima: a soup
    below every ingredient says so, with the fix."""
    if len(scores) > 1 and soup_score < min(scores):
        warn_user(
            f"The uniform soup scores {soup_score:.4g} on X_val, below every one of its nets "
            f"({min(scores):.4g} to {max(scores):.4g}). Averaging weights works for nets that "
            "share a starting point (fine-tuned from one pretrained net, or snapshots of one "
            "run), not for nets trained from different initialisations. Use method='greedy' "
            "(never worse than the best net), or an ensemble that averages predictions.",
            UserWarning,
        )
