"""How an ensemble's score grows with its members."""

from __future__ import annotations

from typing import ClassVar

from ...model_selection import EnsembleSizeCurve, ensemble_size_curve
from .._kit import Checker, check_scoring, figure, pyplot
from ._base import Analysis


class SizeCurve(Analysis):
    """The score of an ensemble's first k members on held-out rows, over orderings."""

    kind = "size_curve"
    defaults: ClassVar[dict] = {
        "model": None,
        "n_orderings": 10,
        "test_size": 0.25,
        "scoring": None,
    }
    types: ClassVar[dict] = {
        "model": "string",
        "n_orderings": "integer",
        "test_size": "number",
        "scoring": "string?",
    }
    result_type = EnsembleSizeCurve
    needs_ensemble = True

    def check(self, settings, models, classifier, path, checker) -> None:
        checker.number(settings["n_orderings"], (*path, "n_orderings"), 1, None, integer=True)
        if settings["scoring"] is not None:
            check_scoring(settings["scoring"], classifier, checker, (*path, "scoring"))

    def run(self, study, settings, split, fitted):
        seed, (_, X_test, _, y_test) = split
        scoring = settings["scoring"] or next(iter(study._scorers))
        entry = check_scoring(scoring, study._classifier, Checker())[scoring]
        curve = ensemble_size_curve(
            self.fitted_model(study, settings, split, fitted), X_test, y_test, scoring=entry,
            n_orderings=settings["n_orderings"], random_state=seed,
        )  # fmt: skip
        return curve, {}

    def check_record(self, result, record, study, reader):
        decoded = super().check_record(result, record, study, reader)
        sizes, scores = decoded.sizes, decoded.scores
        if sizes.ndim != 1 or not len(sizes):
            reader.fail("result.sizes", "must list the ensemble sizes.")
        if scores.ndim != 2 or scores.shape[1] != len(sizes):
            reader.fail("result.scores", "must hold a row per ordering and a column per size.")
        return decoded

    def lines(self, model, result):
        return [
            f"ensemble size of {model!r}, {result.scoring}: {result.mean[0]:.4f} with 1 "
            f"member, {result.mean[-1]:.4f} with {result.sizes[-1]}"
        ]

    def section(self, run, result, settings):
        fig, ax = pyplot().subplots(figsize=(6, 4), constrained_layout=True)
        result.plot(ax=ax)
        return {
            "scoring": result.scoring,
            "n_orderings": len(result.scores),
            "first": result.mean[0],
            "last": result.mean[-1],
            "size": int(result.sizes[-1]),
            "figure": figure(fig),
        }
