"""skorch nets that are true scikit-learn estimators, and their default module."""

from ._base import DivergenceWarning
from ._gaussian import GaussianNLLLoss
from ._mlp import MLP
from ._net import NeuralNetClassifier, NeuralNetRegressor

__all__ = [
    "MLP",
    "DivergenceWarning",
    "GaussianNLLLoss",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
]
