"""The comparison of the models' fold scores: a fold analysis, read from the folds'
records when a run is read."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...model_selection import ComparisonTables
from .._kit import figure, pyplot
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

    def tables(self, run) -> ComparisonTables | None:
        """The tables over the folds every model of ``run`` has finished with a finite
        score (a scorer with fewer than two such folds has no table; None when no scorer
        has one). A study without ``[analyses.comparison]`` gets the defaults."""
        folds = run.common_folds()
        settings = run.study["analyses"].get("comparison", {})
        records = [run.fold_record(model, fold) for model in run.models for fold in folds]
        missing = {(fold, scorer) for _, fold, scorer in run.missing_scores}
        by_scorer = {}
        for scorer in run.scorers:
            scored = [f for f in folds if (f, scorer) not in missing]
            if len(scored) >= 2:
                by_scorer[scorer] = {
                    model: np.array([run.fold_record(model, f)["scores"][scorer] for f in scored])
                    for model in run.models
                }
        if not by_scorer:
            return None
        correction = settings.get("correction", "holm")
        return ComparisonTables.from_scores(
            by_scorer,
            {name: tuple(run.study["scorers"][name]) for name in by_scorer},
            test=settings.get("test", "corrected_ttest"),
            confidence_level=settings.get("confidence_level", 0.95),
            correction=None if correction == "none" else correction,
            n_train=float(np.mean([r["n_train"] for r in records])),
            n_test=float(np.mean([r["n_test"] for r in records])),
        )

    def section(self, run, result=None, settings=None) -> list[dict] | None:
        """Per scorer, what ``templates/analyses/comparison.html`` shows (None: no table)."""
        tables = run.comparison
        if tables is None:
            return None
        return [
            {
                "scorer": scorer,
                "level": f"{table.confidence_level:.0%}",
                "p_name": "p" if table.correction is None else f"p ({table.correction})",
                "test": "corrected resampled t-test"
                if table.test == "corrected_ttest"
                else "t-test",
                "n_folds": len(table[0].scores),
                "rows": list(table),
                "summary": table.summary,
                "figure": figure(_figure(table)),
            }
            for scorer, table in tables.items()
        ]


def _figure(table):
    """Every fold's score beside each mean (left), each model's difference (right)."""
    plt = pyplot()
    height = 0.45 * len(table) + 1.6
    if len(table) == 1:
        fig, ax = plt.subplots(figsize=(6, height), constrained_layout=True)
        table.plot(ax=ax, kind="scores")
        return fig
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, height), constrained_layout=True)
    table.plot(ax=left, kind="scores")
    table.plot(ax=right, kind="difference")
    return fig
