"""How a net with its default settings does on small tables, next to logistic regression.

    python benchmarks/bench_defaults.py
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_defaults.py

Each model is a pipeline: StandardScaler, then the model. 5-fold stratified cross-validated
log loss and accuracy on scikit-learn's bundled tables (iris, wine, breast_cancer, digits),
the same folds for all. The nets are NeuralNetClassifier with its defaults (random_state=0),
scikit-learn's MLPClassifier with its own, and the alternatives to batch_size="auto" that
were measured: 128 rows a batch (the earlier default), alone, with 200 epochs, and with early
stopping; "warned" counts the folds whose fit gave a ConvergenceWarning.
"""

import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
DATASETS = {
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "digits": load_digits,
}
MODELS = {
    "LogisticRegression": lambda: LogisticRegression(max_iter=5000),
    "MLPClassifier": lambda: MLPClassifier(random_state=0),
    "net, defaults": lambda: NeuralNetClassifier(random_state=0),
    # The defaults before batch_size="auto": one or two steps an epoch on a small table.
    "net, batch_size=128": lambda: NeuralNetClassifier(batch_size=128, random_state=0),
    "net, max_epochs=200": lambda: NeuralNetClassifier(
        batch_size=128, max_epochs=200, random_state=0
    ),
    "net, early stopping": lambda: NeuralNetClassifier(
        batch_size=128, early_stopping=True, max_epochs=200, random_state=0
    ),
}
if QUICK:
    DATASETS = {"iris": load_iris}
    MODELS = {name: MODELS[name] for name in ("LogisticRegression", "net, defaults")}


def cross_validate(make, X, y):
    """Mean log loss and accuracy over the folds, the seconds taken and the folds warned."""
    losses, accuracies, warned = [], [], 0
    start = time.perf_counter()
    for train, test in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
        model = make_pipeline(StandardScaler(), make())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(X[train], y[train])
        warned += any(issubclass(w.category, ConvergenceWarning) for w in caught)
        proba = model.predict_proba(X[test])
        losses.append(log_loss(y[test], proba, labels=np.unique(y)))
        accuracies.append(accuracy_score(y[test], model.predict(X[test])))
    return np.mean(losses), np.mean(accuracies), time.perf_counter() - start, warned


def main() -> None:
    print("ensemblekit default nets next to logistic regression: 5-fold CV, scaled inputs")
    print(f"{'data':14s} {'model':22s} {'log loss':>8s} {'accuracy':>8s} {'seconds':>7s} warned")
    for data_name, load in DATASETS.items():
        X, y = load(return_X_y=True)
        X = X.astype(np.float32)
        for name, make in MODELS.items():
            loss, accuracy, seconds, warned = cross_validate(make, X, y)
            print(
                f"{data_name:14s} {name:22s} {loss:8.3f} {accuracy:8.3f} {seconds:7.1f} {warned}/5"
            )


if __name__ == "__main__":
    main()
