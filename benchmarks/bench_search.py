"""A grid search of nets: stacked (StackedGridSearchCV) against scikit-learn's GridSearchCV.

    python benchmarks/bench_search.py              # both parts
    python benchmarks/bench_search.py --halving    # successive halving only
    python benchmarks/bench_search.py --optuna     # Optuna trials only
    ENSEMBLEKIT_QUICK=1 python benchmarks/bench_search.py

Workload: make_classification(20k rows, 20 features, 10 informative, 3 classes), the 16k
training rows of the speed benchmark's split, an MLP 20-64-64-3, Adam, batch 256, 10
epochs; the grid 4 learning rates x 3 weight decays under 5-fold CV (60 fits, then a
refit). Contenders, in one run, with the same folds and seeds:

- ensemblekit StackedGridSearchCV (n_jobs=1 and 2, nets on one torch thread each, and
  n_jobs=1 with nets on two threads: one process using both cores);
- scikit-learn GridSearchCV over ensemblekit's net (n_jobs=1 and 2);
- scikit-learn GridSearchCV over skorch's NeuralNetClassifier with the same module
  (n_jobs=2; each worker limited to one torch thread, as the ensemblekit nets are).

Prints wall times, how many times faster each is than GridSearchCV over our nets at
n_jobs=2 (above 1: faster), each search's best
parameters, and the largest difference of ours from GridSearchCV over our nets in
``mean_test_score``.

Then successive halving over epochs: StackedHalvingGridSearchCV against the full
StackedGridSearchCV on a 12-candidate grid (6 learning rates x 2 weight decays), 3 folds,
at most 27 epochs, 3,000 training rows, for 5 seeds (the nets' and the folds'). For each:
both wall times, the member-epochs halving spent as a share of the grid's, the candidate
halving picked and its score in the full grid, against the grid's best.

Then Optuna: 24 trials (TPE, seed 0) over lr and weight decay on a log scale, 3 folds, 20
epochs, 3,000 training rows: StackedOptunaSearchCV in batches of 8 with Optuna's
MedianPruner, against ``study.optimize`` with one ``cross_val_score`` per trial.
"""

import os
import time

import numpy as np
import skorch
import torch
from _workload import three_class_split
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from ensemblekit.model_selection import StackedGridSearchCV, StackedHalvingGridSearchCV
from ensemblekit.nets import MLP, NeuralNetClassifier

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
EPOCHS = 2 if QUICK else 10
GRID = {"lr": [3e-4, 1e-3, 3e-3, 1e-2], "optimizer__weight_decay": [0.0, 1e-4, 1e-3]}
if QUICK:
    GRID = {"lr": [1e-3, 1e-2], "optimizer__weight_decay": [0.0, 1e-3]}
MODULE = {"n_features": 20, "n_outputs": 3, "hidden_units": (64, 64), "random_state": 0}


def ours(threads=1):
    return NeuralNetClassifier(
        module__hidden_units=(64, 64), batch_size=256, max_epochs=EPOCHS, n_threads=threads,
        random_state=0,
    )  # fmt: skip


class _OneThreadNet(skorch.NeuralNetClassifier):
    """skorch's net on one torch thread per fit, as each of our workers gets."""

    def fit(self, X, y, **fit_params):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return super().fit(X, y, **fit_params)
        finally:
            torch.set_num_threads(threads)


def skorch_net():
    return _OneThreadNet(
        MLP, **{f"module__{k}": v for k, v in MODULE.items()}, criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam, batch_size=256, max_epochs=EPOCHS, train_split=None,
        iterator_train__shuffle=True, verbose=0,
    )  # fmt: skip


def timed(search, X, y):
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, search


def main() -> None:
    X, _, y, _ = three_class_split(2_000 if QUICK else 20_000)
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    n_fits = 5 * np.prod([len(v) for v in GRID.values()])
    print(f"ensemblekit stacked search: {len(X)} rows, {n_fits} fits + refit, {EPOCHS} epochs")
    # Warm up: torch, and the pool of worker processes the n_jobs=2 contenders share.
    StackedGridSearchCV(ours(), GRID, cv=cv, n_jobs=2).fit(X[:500], y[:500])
    GridSearchCV(ours(), GRID, cv=cv, n_jobs=2).fit(X[:500], y[:500])
    runs = {
        "ensemblekit StackedGridSearchCV n_jobs=1": StackedGridSearchCV(ours(), GRID, cv=cv),
        "ensemblekit StackedGridSearchCV n_jobs=2": StackedGridSearchCV(
            ours(), GRID, cv=cv, n_jobs=2
        ),
        "ensemblekit Stacked, n_jobs=1, 2 threads": StackedGridSearchCV(ours(2), GRID, cv=cv),
        "GridSearchCV(ensemblekit net) n_jobs=1": GridSearchCV(ours(), GRID, cv=cv),
        "GridSearchCV(ensemblekit net) n_jobs=2": GridSearchCV(ours(), GRID, cv=cv, n_jobs=2),
        "GridSearchCV(skorch net) n_jobs=2": GridSearchCV(skorch_net(), GRID, cv=cv, n_jobs=2),
    }
    results = {name: timed(search, X, y) for name, search in runs.items()}
    reference = results["GridSearchCV(ensemblekit net) n_jobs=2"][0]
    print(f"{'contender':42s} {'seconds':>8s} {'GridSearchCV n_jobs=2 / it':>27s}  best")
    for name, (seconds, search) in results.items():
        best = ", ".join(f"{k}={v:g}" for k, v in sorted(search.best_params_.items()))
        print(f"{name:42s} {seconds:8.1f} {reference / seconds:27.2f}  {best}")
    stacked = results["ensemblekit StackedGridSearchCV n_jobs=1"][1].cv_results_
    plain = results["GridSearchCV(ensemblekit net) n_jobs=1"][1].cv_results_
    difference = np.abs(stacked["mean_test_score"] - plain["mean_test_score"]).max()
    print(f"largest |mean_test_score difference|, stacked vs GridSearchCV: {difference:.2g}")


HALVING_GRID = {
    "lr": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
    "optimizer__weight_decay": [0.0, 1e-3],
}


def halving(seeds) -> None:
    """Successive halving over epochs against the full stacked grid, seed by seed."""
    epochs = 3 if QUICK else 27
    X, _, y, _ = three_class_split(1_000 if QUICK else 3_750)
    print(f"\nStackedHalvingGridSearchCV vs StackedGridSearchCV: {len(X)} rows, 12 candidates,"
          f" 3 folds, at most {epochs} epochs")  # fmt: skip
    header = f"{'seed':>4s} {'grid s':>7s} {'halving s':>9s} {'time':>6s} {'member-epochs':>13s}"
    print(f"{header}  {'halving pick, its full-grid score':>34s}  {'grid best':>9s}  within 0.01")
    hits = 0
    for seed in seeds:
        net = NeuralNetClassifier(
            module__hidden_units=(64, 64), batch_size=128, max_epochs=epochs, random_state=seed
        )
        cv = StratifiedKFold(3, shuffle=True, random_state=seed)
        grid_time, grid = timed(StackedGridSearchCV(net, HALVING_GRID, cv=cv), X, y)
        halving_time, halving = timed(
            StackedHalvingGridSearchCV(net, HALVING_GRID, cv=cv, random_state=seed), X, y
        )
        scores = {repr(sorted(p.items())): s for p, s in zip(
            grid.cv_results_["params"], grid.cv_results_["mean_test_score"], strict=True
        )}  # fmt: skip
        pick = {k: v for k, v in halving.best_params_.items() if k != "max_epochs"}
        picked = scores[repr(sorted(pick.items()))]
        best = grid.best_score_
        # The survivors train on: each round adds its epochs over the last round's.
        steps = np.diff([0, *halving.n_resources_])
        spent = sum(n * r for n, r in zip(halving.n_candidates_, steps, strict=True))
        share = spent / (len(scores) * epochs)
        hits += best - picked <= 0.01
        name = ", ".join(f"{k}={v:g}" for k, v in sorted(pick.items()))
        print(f"{seed:4d} {grid_time:7.1f} {halving_time:9.1f} {halving_time / grid_time:5.2f}x "
              f"{share:12.0%}  {name:>26s} {picked:.4f}  {best:9.4f}  "
              f"{'yes' if best - picked <= 0.01 else 'no'}")  # fmt: skip
    print(f"the halving pick within 0.01 of the grid's best in {hits} of {len(seeds)} seeds")


def optuna_part(n_trials: int, batch: int) -> None:
    """Optuna trials in stacked batches with a MedianPruner, against one at a time."""
    import optuna
    from sklearn.model_selection import cross_val_score

    from ensemblekit.model_selection import StackedOptunaSearchCV

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    epochs = 3 if QUICK else 20
    X, _, y, _ = three_class_split(1_000 if QUICK else 3_750)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    net = NeuralNetClassifier(
        module__hidden_units=(64, 64), batch_size=128, max_epochs=epochs, random_state=0
    )
    space = {
        "lr": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "optimizer__weight_decay": optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
    }
    print(f"\nOptuna: {n_trials} trials, {len(X)} rows, 3 folds, {epochs} epochs")

    def study():
        return optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=0),
            pruner=optuna.pruners.MedianPruner(),
        )  # fmt: skip

    def objective(trial):
        params = {
            name: trial.suggest_float(name, d.low, d.high, log=d.log) for name, d in space.items()
        }
        return cross_val_score(net.set_params(**params), X, y, cv=cv).mean()

    one_study = study()
    start = time.perf_counter()
    one_study.optimize(objective, n_trials=n_trials)
    one = time.perf_counter() - start
    search = StackedOptunaSearchCV(
        net, space, n_trials=n_trials, batch_size=batch, cv=cv, study=study(), refit=False
    )
    stacked, _ = timed(search, X, y)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in search.trials_)
    print(f"one trial at a time (cross_val_score per trial) {one:7.1f} s, best "
          f"{one_study.best_value:.4f}")  # fmt: skip
    print(f"StackedOptunaSearchCV, batches of {batch}         {stacked:7.1f} s, best "
          f"{search.best_score_:.4f}; {pruned} of {n_trials} trials pruned; "
          f"{one / stacked:.1f}x faster")  # fmt: skip


if __name__ == "__main__":
    import sys

    parts = {"--halving", "--optuna"} & set(sys.argv) or {"--grid", "--halving", "--optuna"}
    if "--grid" in parts:
        main()
    if "--halving" in parts:
        halving(range(1) if QUICK else range(5))
    if "--optuna" in parts:
        optuna_part(8 if QUICK else 24, 4 if QUICK else 8)
