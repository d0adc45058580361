"""Meta-estimators whose members are fitted by the member engine."""

from ._bagging import BaggingClassifier, BaggingRegressor
from ._cv import CVEnsembleClassifier, CVEnsembleRegressor
from ._deep import DeepEnsembleClassifier, DeepEnsembleRegressor

__all__ = [
    "BaggingClassifier",
    "BaggingRegressor",
    "CVEnsembleClassifier",
    "CVEnsembleRegressor",
    "DeepEnsembleClassifier",
    "DeepEnsembleRegressor",
]
