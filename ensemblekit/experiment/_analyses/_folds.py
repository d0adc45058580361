"""The fold analyses: read from the folds' records when a run is read."""

from __future__ import annotations

from typing import ClassVar

from ._base import Analysis


class Comparison(Analysis):
    """The comparison tables of the models' fold scores (corrected paired tests)."""

    kind = "comparison"
    defaults: ClassVar[dict] = {
        "test": "corrected_ttest",
        "confidence_level": 0.95,
        "correction": "holm",
    }
    types: ClassVar[dict] = {"test": "string", "confidence_level": "number", "correction": "string"}
    choices: ClassVar[dict] = {
        "test": ("corrected_ttest", "ttest"),
        "correction": ("holm", "bonferroni", "none"),
    }

    def check(self, settings, models, classifier, path, checker) -> None:
        super().check(settings, models, classifier, path, checker)
        checker.number(
            settings["confidence_level"], (*path, "confidence_level"), 0, 1, closed=False
        )


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
