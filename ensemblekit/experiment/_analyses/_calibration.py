"""The calibration of each model's out-of-fold probabilities: a fold analysis, read from
the folds' records when a run is read."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...metrics import ReliabilityDisplay, expected_calibration_error, multiclass_brier_score
from .._kit import figure, pyplot
from ._base import Analysis


class Calibration(Analysis):
    """The calibration of each model's out-of-fold probabilities."""

    kind = "calibration"
    defaults: ClassVar[dict] = {"n_bins": 10, "strategy": "uniform"}
    types: ClassVar[dict] = {"n_bins": "integer", "strategy": "string"}
    choices: ClassVar[dict] = {"strategy": ("uniform", "quantile")}

    def check(self, settings, models, classifier, path, checker) -> None:
        if not classifier:
            checker.fail(path, "calibration needs classifiers; this study's models regress.")
        checker.number(settings["n_bins"], (*path, "n_bins"), 1, None, integer=True)
        super().check(settings, models, classifier, path, checker)

    def scores(self, run) -> dict | None:
        """Per model of ``run``, the expected calibration error and multiclass Brier score
        of its out-of-fold probabilities (None when the study does not ask for them)."""
        settings = run.study["analyses"].get("calibration")
        if settings is None:
            return None
        labels = np.arange(len(run.study["data"]["classes"]))
        out = {}
        for model in run.models:
            if (pooled := run.out_of_fold(model)) is not None:
                y, proba = pooled
                out[model] = {
                    "ece": expected_calibration_error(
                        y,
                        proba,
                        n_bins=settings["n_bins"],
                        strategy=settings["strategy"],
                        labels=labels,
                    ),
                    "brier": multiclass_brier_score(y, proba, labels=labels),
                }
        return out

    def section(self, run, result=None, settings=None) -> dict | None:
        """What ``templates/analyses/calibration.html`` shows (None: nothing to show)."""
        calibration = run.calibration
        if not calibration:
            return None
        settings = run.study["analyses"]["calibration"]
        pooled = {m: run.out_of_fold(m) for m in calibration}
        y = next(iter(pooled.values()))[0]
        fig, ax = pyplot().subplots(figsize=(5.5, 5), constrained_layout=True)
        ReliabilityDisplay.from_predictions(
            y,
            {m: p for m, (_, p) in pooled.items()},
            n_bins=settings["n_bins"],
            strategy=settings["strategy"],
            labels=np.arange(len(run.study["data"]["classes"])),
            ax=ax,
        )
        return {**settings, "models": calibration, "figure": figure(fig)}
