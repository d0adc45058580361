"""Do a model's conformal intervals or sets hold what they promise on rows it did not see?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ...conformal import ConformalClassifier, ConformalRegressor
from ...metrics import (
    CoverageDisplay,
    coverage_score,
    mean_set_size,
    mean_width_score,
    set_coverage_score,
)
from .._kit import figure, pyplot
from ._base import Analysis

SET_SCORES = ("lac", "aps", "raps", "top_k")


@dataclass(frozen=True, eq=False)
class ConformalCoverage:
    """Coverage and width (or set size) of split-conformal intervals or sets at each level,
    per model (a row each), on held-out rows the calibration did not use."""

    models: str  # the model names, separated by spaces (a name holds none)
    levels: np.ndarray
    coverage: np.ndarray
    size: np.ndarray
    n_calibration: int
    n_test: int

    @property
    def names(self) -> list[str]:
        return self.models.split()


class Conformal(Analysis):
    """Split conformal around a study's models: each fitted on the training rows,
    calibrated on half the held-out rows, measured on the other half."""

    kind = "conformal"
    defaults: ClassVar[dict] = {
        "model": None,
        "test_size": 0.5,
        "levels": [0.5, 0.8, 0.9],
        "score": None,
        "mondrian": False,
    }
    types: ClassVar[dict] = {
        "model": "string?",
        "test_size": "number",
        "levels": "list",
        "score": "string?",
        "mondrian": "boolean",
    }
    result_type = ConformalCoverage
    every_model = True

    def check(self, settings, models, classifier, path, checker) -> None:
        levels = settings["levels"]
        if not isinstance(levels, list) or not levels:
            checker.fail((*path, "levels"), f"must list confidence levels, got {levels!r}.")
        for i, level in enumerate(levels):
            checker.number(level, (*path, "levels", i), 0, 1, closed=False)
            if level >= 1:
                checker.fail((*path, "levels", i), f"must be below 1, got {level!r}.")
        if len(set(levels)) != len(levels):
            checker.fail((*path, "levels"), f"lists a level twice: {levels!r}.")
        scores = SET_SCORES if classifier else ("absolute",)
        if settings["score"] is not None:
            checker.choice(settings["score"], (*path, "score"), scores)
        if settings["mondrian"] and not classifier:
            checker.fail((*path, "mondrian"), "calibrates each class: classification only.")
        settings["score"] = settings["score"] or scores[0]

    def run(self, study, settings, split, fitted):
        seed, (_, X_test, _, y_test) = split
        half = len(y_test) // 2
        X_cal, y_cal, X_new, y_new = X_test[:half], y_test[:half], X_test[half:], y_test[half:]
        levels = sorted(settings["levels"])
        names = self.models_of(settings, study._models)
        coverage, size = [], []
        for name in names:
            model = self.fitted_model(study, {**settings, "model": name}, split, fitted)
            if study._classifier:
                conformal = ConformalClassifier(
                    model, conformity_score=settings["score"], mondrian=settings["mondrian"],
                    confidence_level=levels, prefit=True, random_state=seed,
                ).fit(X_cal, y_cal)  # fmt: skip
                sets = conformal.predict_set(X_new)
                coverage.append(set_coverage_score(y_new, sets, classes=conformal.classes_))
                size.append(mean_set_size(y_new, sets))
            else:
                conformal = ConformalRegressor(model, confidence_level=levels, prefit=True)
                intervals = conformal.fit(X_cal, y_cal).predict_interval(X_new)
                coverage.append(coverage_score(y_new, intervals))
                size.append(mean_width_score(y_new, intervals))
        result = ConformalCoverage(
            " ".join(names), np.asarray(levels, dtype=float), np.asarray(coverage),
            np.asarray(size), half, len(y_new),
        )  # fmt: skip
        return result, {}

    def check_record(self, result, record, study, reader):
        decoded = super().check_record(result, record, study, reader)
        n = len(decoded.levels)
        if (
            decoded.levels.ndim != 1
            or not n
            or np.any((decoded.levels <= 0) | (decoded.levels >= 1))
        ):
            reader.fail("result.levels", "must list levels in (0, 1).")
        unknown = [name for name in decoded.names if name not in study["models"]]
        if not decoded.names or unknown:
            reader.fail("result.models", f"must name models of the study, got {decoded.models!r}.")
        for name in ("coverage", "size"):
            if getattr(decoded, name).shape != (len(decoded.names), n):
                reader.fail(f"result.{name}", "must hold a row per model and a value per level.")
        if np.any((decoded.coverage < 0) | (decoded.coverage > 1)):
            reader.fail("result.coverage", "must be shares in [0, 1].")
        return decoded

    def lines(self, model, result):
        out = []
        for name, coverage in zip(result.names, result.coverage, strict=True):
            cells = ", ".join(
                f"{level:.0%}: {cover:.1%}"
                for level, cover in zip(result.levels, coverage, strict=True)
            )
            out.append(f"conformal coverage of {name!r} on {result.n_test} held-out rows: {cells}")
        return out

    def section(self, run, result, settings):
        classifier = run.study["task"] == "classification"
        label = "mean set size" if classifier else "mean width"
        fig, axes = pyplot().subplots(1, 2, figsize=(9, 3.8), constrained_layout=True)
        curves = {
            name: (result.levels, coverage, size)
            for name, coverage, size in zip(result.names, result.coverage, result.size, strict=True)
        }
        CoverageDisplay(curves, n_rows=result.n_test, size_label=label).plot(axes)
        return {
            "rows": [
                (name, level, cover, size)
                for name, coverages, sizes in zip(
                    result.names, result.coverage, result.size, strict=True
                )
                for level, cover, size in zip(result.levels, coverages, sizes, strict=True)
            ],
            "models": result.names,
            "size_label": label,
            "n_calibration": result.n_calibration,
            "n_test": result.n_test,
            "figure": figure(fig),
        }
