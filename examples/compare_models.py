"""Compare a net, a bagged net, a CV ensemble of nets and gradient boosting, honestly.
===================================================================================

On load_breast_cancer, every model is scored on the same repeated stratified 5-fold splits
(5 x 2 = 10 folds), by accuracy and by log loss. Each table gives each model's mean, a 95%
interval, its difference to the best with an interval, and the p-value of that difference
(Holm-adjusted for the several comparisons), all with Nadeau & Bengio's corrected
variance: folds share training rows, so the plain t-test over them is too confident. A
sentence under each table says which models the best is significantly ahead of. The figure
shows every fold's score and each model's difference to the best. Saves
``compare_models.png`` into the figures folder (``$ENSEMBLEKIT_FIGURES``, or ``figures/``
in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import BaggingClassifier, CVEnsembleClassifier
from ensemblekit.model_selection import compare_models
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
N_JOBS = 1 if QUICK else 2  # quick mode skips the worker start-up, not the parallel code


def main():
    X, y = load_breast_cancer(return_X_y=True)
    net = NeuralNetClassifier(module__hidden_units=(32,), max_epochs=3 if QUICK else 40)
    members = 2 if QUICK else 5
    models = {
        "net": make_pipeline(StandardScaler(), net),
        f"bagged nets ({members})": make_pipeline(
            StandardScaler(), BaggingClassifier(net, n_estimators=members, random_state=0)
        ),
        "CV ensemble of nets (3)": make_pipeline(
            StandardScaler(), CVEnsembleClassifier(net, cv=3, random_state=0)
        ),
        "HistGradientBoosting": HistGradientBoostingClassifier(random_state=0),
    }
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=1 if QUICK else 2, random_state=0)
    tables = compare_models(
        models, X, y, cv=cv, scoring=["accuracy", "neg_log_loss"], n_jobs=N_JOBS, random_state=0
    )
    print(tables)

    fig, axes = plt.subplots(2, 2, figsize=(12, 6.5), constrained_layout=True)
    for row, name in zip(axes, tables, strict=True):
        tables[name].plot(ax=row[0], kind="scores")
        tables[name].plot(ax=row[1], kind="difference")
    fig.suptitle(
        f"load_breast_cancer, {cv.get_n_splits()} folds: scores, and differences to the best"
    )
    FIGURES.mkdir(parents=True, exist_ok=True)
    fig.savefig(FIGURES / "compare_models.png", dpi=110)


if __name__ == "__main__":
    main()
