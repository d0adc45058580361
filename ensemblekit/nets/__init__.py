"""skorch nets that are true scikit-learn estimators, and their default module."""

from ._gaussian import GaussianNLLLoss
from ._mlp import MLP
from ._net import NeuralNetClassifier, NeuralNetRegressor

__all__ = ["MLP", "GaussianNLLLoss", "NeuralNetClassifier", "NeuralNetRegressor"]
