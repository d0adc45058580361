"""Who trains how long: successive halving over epochs, and Optuna trials pruned.
==============================================================================

On load_digits (a quarter held out), a net's learning rate and weight decay searched two
ways, every candidate and fold trained as one stacked model:

1. ``StackedHalvingGridSearchCV`` over 6 learning rates x 2 weight decays: all 12
   candidates train 3 epochs, the best third train on to 9, the best of those to 27. The
   survivors keep their weights and optimizer state from round to round.
2. ``StackedOptunaSearchCV``: 24 trials asked of Optuna in batches of 8, each trial's mean
   validation score reported after every epoch, and Optuna's MedianPruner stopping the
   trials that trail.

Saves ``plot_halving_and_optuna.png``: one row per candidate or trial, a bar as long as it
trained, coloured by its mean CV accuracy at the end. Into the figures folder
(``$ENSEMBLEKIT_FIGURES``, or ``figures/`` in the current folder).

Set ``ENSEMBLEKIT_QUICK=1`` for the seconds-long version the test suite runs.
"""

import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import optuna
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from ensemblekit.model_selection import StackedHalvingGridSearchCV, StackedOptunaSearchCV
from ensemblekit.nets import DivergenceWarning, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
FIGURES = Path(os.environ.get("ENSEMBLEKIT_FIGURES", "figures"))  # where the figure goes
EPOCHS = 9 if QUICK else 27
N_TRIALS, BATCH = (8, 4) if QUICK else (24, 8)

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
net = NeuralNetClassifier(
    module__hidden_units=(64,), batch_size=64, max_epochs=EPOCHS, random_state=0
)
# The ranges reach rates at which training diverges, on purpose: the searches score those
# candidates low, so the nets' DivergenceWarnings about them are left out here.
warnings.filterwarnings("ignore", category=DivergenceWarning)
optuna.logging.set_verbosity(optuna.logging.WARNING)

grid = {"lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2], "optimizer__weight_decay": [0.0, 1e-3]}
halving = StackedHalvingGridSearchCV(net, grid, cv=3).fit(X_train, y_train)
print(f"1. Halving: candidates per round {halving.n_candidates_}, epochs {halving.n_resources_}")
print(f"   best {halving.best_params_}, held-out accuracy {halving.score(X_test, y_test):.3f}")

space = {
    "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
    "optimizer__weight_decay": optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
}
study = optuna.create_study(
    direction="maximize",
    sampler=optuna.samplers.TPESampler(seed=0),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=2),
)
search = StackedOptunaSearchCV(
    net, space, n_trials=N_TRIALS, batch_size=BATCH, cv=3, study=study, random_state=0
).fit(X_train, y_train)
states = search.cv_results_["state"]
print(f"2. Optuna: {np.sum(states == 'PRUNED')} of {len(states)} trials pruned")
print(f"   best {search.best_params_}, held-out accuracy {search.score(X_test, y_test):.3f}")

# Each halving candidate's last round: how long it trained, and its score there.
results = halving.cv_results_
last = {}
for params, epochs, score in zip(
    results["params"], results["n_resources"], results["mean_test_score"], strict=True
):
    key = (params["lr"], params["optimizer__weight_decay"])
    last[key] = (epochs, score)  # rounds come in order: the last one stays
halving_rows = sorted(last.items(), key=lambda item: (-item[1][0], -item[1][1]))
trial_rows = sorted(
    zip(
        search.trials_, search.cv_results_["n_epochs"], search.cv_results_["mean_test_score"],
        strict=True,
    ),
    key=lambda row: (-row[1], -row[2]),
)  # fmt: skip

fig, axes = plt.subplots(1, 2, figsize=(11, 5.5), constrained_layout=True)
norm = plt.Normalize(min(s for _, (_, s) in halving_rows), 1.0)
cmap = plt.get_cmap("viridis")
ax = axes[0]
for row, (_, (epochs, score)) in enumerate(halving_rows):
    ax.barh(row, epochs, color=cmap(norm(score)))
    ax.text(epochs + 0.3, row, f"{score:.3f}", va="center", fontsize=8)
ax.set_yticks(
    range(len(halving_rows)), [f"lr {lr:g}, wd {decay:g}" for (lr, decay), _ in halving_rows]
)
for epochs in halving.n_resources_[:-1]:
    ax.axvline(epochs, color="0.6", linestyle=":", linewidth=1)
ax.invert_yaxis()
ax.set_xlabel("epochs trained")
ax.set_xlim(0, EPOCHS * 1.15)
ax.set_title("Successive halving: the best third train on")

ax = axes[1]
for row, (trial, epochs, score) in enumerate(trial_rows):
    pruned = trial.state == optuna.trial.TrialState.PRUNED
    ax.barh(row, epochs, color=cmap(norm(max(score, norm.vmin))), hatch="//" if pruned else None)
    label = "pruned" if pruned else f"{score:.3f}"
    ax.text(epochs + 0.3, row, label, va="center", fontsize=8)
ax.set_yticks(
    range(len(trial_rows)),
    [
        f"lr {t.params['lr']:.1e}, wd {t.params['optimizer__weight_decay']:.0e}"
        for t, _, _ in trial_rows
    ],
)
ax.invert_yaxis()
ax.set_xlabel("epochs trained")
ax.set_xlim(0, EPOCHS * 1.15)
ax.set_title(f"Optuna, batches of {BATCH}, MedianPruner (hatched: pruned)")
fig.colorbar(
    plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="mean CV accuracy (3 folds)"
)
FIGURES.mkdir(parents=True, exist_ok=True)
fig.savefig(FIGURES / "plot_halving_and_optuna.png", dpi=110)
