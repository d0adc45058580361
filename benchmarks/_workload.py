"""The speed issues' workload, shared by the benchmark scripts that time it."""

import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def three_class_split(n_rows: int):
    """make_classification(n_rows, 20 features, 10 informative, 3 classes), 80/20, scaled.

    Returns float32 ``X_train, X_test`` and int64 ``y_train``, ``y_test``.
    """
    X, y = make_classification(
        n_samples=n_rows, n_features=20, n_informative=10, n_classes=3, random_state=0
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train = scaler.transform(X_train).astype(np.float32)
    X_test = scaler.transform(X_test).astype(np.float32)
    return X_train, X_test, y_train.astype(np.int64), y_test
