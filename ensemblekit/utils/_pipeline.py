"""The estimator a tool inspects when it is given a Pipeline: its last step."""

from __future__ import annotations

from sklearn.pipeline import Pipeline


def final_step(estimator, X=None):
    """The ensemble at the end of a Pipeline (the estimator itself otherwise), and X as it
    reaches that step."""
    if not isinstance(estimator, Pipeline):
        return estimator, X
    return estimator[-1], None if X is None else estimator[:-1].transform(X)
