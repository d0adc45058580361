"""The speed benchmarks' workload, shared by the scripts that time it."""

import numpy as np
import torch
from sklearn.datasets import load_digits, make_classification
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


class DigitsCNN(torch.nn.Module):
    """A small CNN for the 8x8 digit images: conv 3x3 (8 channels), max-pool, dropout and
    two linear layers (128-32-10)."""

    def __init__(self, n_features=64, n_outputs=10, channels=8, dropout=0.25):
        super().__init__()
        self.conv = torch.nn.Conv2d(1, channels, 3, padding=1)
        self.hidden = torch.nn.Linear(channels * 16, 32)
        self.drop = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(32, n_outputs)

    def forward(self, X):
        h = torch.relu(self.conv(X.view(-1, 1, 8, 8)))
        h = torch.nn.functional.max_pool2d(h, 2).flatten(1)
        return self.out(self.drop(torch.relu(self.hidden(h))))


def digits_split():
    """load_digits scaled to [0, 1], 80/20 stratified: float32 X, int64 y."""
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        (X / 16).astype(np.float32), y, test_size=0.2, stratify=y, random_state=0
    )
    return X_train, X_test, y_train.astype(np.int64), y_test
