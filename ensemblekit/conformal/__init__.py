"""Conformal prediction: intervals with a coverage guarantee from the models and ensembles
ensemblekit trains (split conformal, CV+, CV-minmax, the jackknife+ after bootstrap)."""

from ._regression import ConformalRegressor

__all__ = ["ConformalRegressor"]
