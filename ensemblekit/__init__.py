"""ensemblekit: scikit-learn rigour around PyTorch nets."""

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
