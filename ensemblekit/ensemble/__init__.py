"""Meta-estimators whose members are fitted by the member engine."""

from ._adaboost import AdaBoostClassifier, AdaBoostRegressor
from ._bagging import BaggingClassifier, BaggingRegressor
from ._cv import CVEnsembleClassifier, CVEnsembleRegressor
from ._deep import DeepEnsembleClassifier, DeepEnsembleRegressor
from ._gradient_boosting import GradientBoostingClassifier, GradientBoostingRegressor
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
