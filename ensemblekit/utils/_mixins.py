"""Small conventions every classifier of the package shares."""

from __future__ import annotations

import numpy as np


class PredictLogProbaMixin:
    """``predict_log_proba``: the log of ``predict_proba``, as scikit-learn's classifiers."""

    def predict_log_proba(self, X) -> np.ndarray:
        """Log of the class probabilities (``-inf`` where a probability is 0).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))
