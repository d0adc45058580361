"""Compare a net, a bagged net, a CV ensemble of nets and gradient boosting, honestly.

On load_breast_cancer, every model is scored on the same repeated stratified 5-fold splits
(5 x 2 = 10 folds). The table gives each model's mean accuracy, a 95% interval and the
p-value against the best model, both with Nadeau & Bengio's corrected variance: folds share
training rows, so the plain t-test over them is too confident. The plot shows each model's
fold scores. Saves ``compare_models.png`` into the figures folder (``--figures DIR``,
``$ENSEMBLEKIT_FIGURES`` or ``examples/figures/``).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os

import matplotlib.pyplot as plt
from _figures import save
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.ensemble import BaggingClassifier, CVEnsembleClassifier
from ensemblekit.model_selection import compare_models
from ensemblekit.nets import NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
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
    table = compare_models(models, X, y, cv=cv, scoring="accuracy", n_jobs=N_JOBS, random_state=0)
    print(table)

    fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
    positions = range(1, len(table) + 1)
    ax.boxplot([row.scores for row in table], positions=positions)
    for i, row in zip(positions, table, strict=True):
        ax.plot([i + 0.3, i + 0.3], [row.ci_low, row.ci_high], color="black", lw=3)
    ax.set_xticks(list(positions), [row.name for row in table])
    ax.set(ylabel="accuracy per fold", xlabel="black bar: corrected 95% interval of the mean")
    ax.set_title(f"load_breast_cancer, repeated stratified 5-fold ({len(table[0].scores)} folds)")
    save(fig, "compare_models.png", dpi=110)


if __name__ == "__main__":
    main()
