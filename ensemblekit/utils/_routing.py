"""Metadata routing: which fit parameters reach the members, as scikit-learn routes them."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
from sklearn import get_config
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping, process_routing

from ._private import _safe_indexing

#: The ``params`` entry of the validation tools' docstrings.
PARAMS_DOC = """params : dict or None, default=None
    Extra parameters for the estimator's ``fit``; a value with one entry per row (a
    ``groups`` array, a second weight) is taken at each fit's rows. With scikit-learn's
    metadata routing enabled, only those the estimator requests (``set_fit_request``)."""

#: The ``**fit_params`` entry of the ensembles' ``fit`` docstrings.
FIT_PARAMS_DOC = """**fit_params : dict
    Passed on to every member's ``fit``; a value with one entry per row of X (a
    ``groups`` array, a second weight) is taken at the member's rows. With
    scikit-learn's metadata routing enabled, only the parameters the estimator
    requests (``estimator.set_fit_request(groups=True)``) reach it."""


def fill_doc(**entries):
    """A decorator writing ``entries[name]`` at the indent of each ``{name}`` line of
    the docstring: the shared numpydoc entries are written once."""

    def fill(function):
        for name, text in entries.items():
            function.__doc__ = re.sub(
                rf"^( *)\{{{name}\}}$",
                lambda match, text=text: "\n".join(match[1] + line for line in text.splitlines()),
                function.__doc__,
                flags=re.MULTILINE,
            )
        return function

    return fill


def member_router(owner, estimator) -> MetadataRouter:
    """A router that sends the metadata of ``owner``'s ``fit`` to ``estimator.fit``."""
    return MetadataRouter(owner=owner).add(
        estimator=estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit")
    )


def routed_fit_params(owner, estimator, params: Mapping | None) -> dict:
    """The fit parameters the clones of ``estimator`` get from ``params``.

    With metadata routing on (``sklearn.set_config(enable_metadata_routing=True)``) only
    those the estimator requests (``estimator.set_fit_request(groups=True)``); one nobody
    requests raises scikit-learn's error, which names the request to set. With routing
    off, all of them, as scikit-learn's meta-estimators pass them. ``owner`` is the
    meta-estimator, or a name for a function's router.
    """
    params = dict(params or {})
    if not get_config()["enable_metadata_routing"]:
        return params
    router = owner if hasattr(owner, "get_metadata_routing") else member_router(owner, estimator)
    return dict(process_routing(router, "fit", **params).estimator.fit)


def rows_of_params(params: Mapping, rows, n_samples: int) -> dict:
    """Fit parameters with one value per row of X (weights, groups) taken at ``rows``, as
    scikit-learn's meta-estimators index them; the others pass as they are."""
    if rows is None:
        return dict(params)
    return {
        name: _safe_indexing(value, rows) if _per_row(value, n_samples) else value
        for name, value in params.items()
    }


def _per_row(value, n_samples: int) -> bool:
    array_like = isinstance(value, np.ndarray | list | tuple) or hasattr(value, "iloc")
    return array_like and len(value) == n_samples
