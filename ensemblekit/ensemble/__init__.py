"""Meta-estimators whose members are fitted by the member engine."""

from ._bagging import BaggingClassifier, BaggingRegressor
from ._boosting import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from ._cv import CVEnsembleClassifier, CVEnsembleRegressor
from ._deep import DeepEnsembleClassifier, DeepEnsembleRegressor
from ._snapshot import SnapshotEnsembleClassifier, SnapshotEnsembleRegressor

__all__ = [
    "AdaBoostClassifier",
    "AdaBoostRegressor",
    "BaggingClassifier",
    "BaggingRegressor",
    "CVEnsembleClassifier",
    "CVEnsembleRegressor",
    "DeepEnsembleClassifier",
    "DeepEnsembleRegressor",
    "GradientBoostingClassifier",
    "GradientBoostingRegressor",
    "SnapshotEnsembleClassifier",
    "SnapshotEnsembleRegressor",
]
