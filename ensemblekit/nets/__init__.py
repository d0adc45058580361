"""skorch nets that are true scikit-learn estimators, and their default module."""

from ._gaussian import GaussianNLLLoss
from ._mlp import MLP
from ._net import NeuralNetClassifier, NeuralNetRegressor
from ._pinball import PinballLoss
from ._prefit import Prefitted, prefitted
from ._stack_predict import StackedPredictor
from ._watch import DivergenceWarning

__all__ = [
    "MLP",
    "DivergenceWarning",
    "GaussianNLLLoss",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "PinballLoss",
    "Prefitted",
    "StackedPredictor",
    "prefitted",
]
