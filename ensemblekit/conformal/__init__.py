"""Conformal prediction: intervals and label sets with a coverage guarantee, from the
models and ensembles ensemblekit trains (split conformal, CV+, CV-minmax, the jackknife+
after bootstrap; LAC, APS, RAPS and top-k sets, marginal or per class)."""

from ._classification import ConformalClassifier
from ._regression import ConformalRegressor

__all__ = ["ConformalClassifier", "ConformalRegressor"]
