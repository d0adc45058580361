"""What a study analysis is: its settings, their checks, its run, its record, its report."""

from __future__ import annotations

from typing import ClassVar

from sklearn.base import clone

from ...utils._random import set_random_states
from .._kit import decode


class Analysis:
    """One kind of study analysis, ``[analyses.KIND]`` in a study file.

    A fold analysis (``result_type`` None) is computed from the folds' records when a run
    is read; a fitted one fits its model on a held-out split of the rows once the folds are
    done, and its result is recorded in ``records/analyses/KIND.json``. A new analysis is a
    module with a subclass of this, and one line in the registry (``ANALYSES``).
    """

    #: Its name in the study file.
    kind: ClassVar[str]
    #: Its settings and their defaults (None: required, or decided by the task).
    defaults: ClassVar[dict]
    #: The JSON type of each setting as a run records it ("string", "number", "integer",
    #: "list"; "?" when it may be None), checked when a run folder is read.
    types: ClassVar[dict]
    #: The values a setting may take, where it names a choice.
    choices: ClassVar[dict] = {}
    #: The result class a fitted analysis records; None for a fold analysis.
    result_type: ClassVar[type | None] = None
    #: Whether its model must be one of ensemblekit's ensembles (``predict_members``).
    needs_ensemble: ClassVar[bool] = False
    #: Whether ``model = None`` (left out) runs it on every model of the study.
    every_model: ClassVar[bool] = False

    def models_of(self, settings: dict, models) -> list[str]:
        """The names of the models it runs on: the one it names, or, for an analysis of
        ``every_model`` that names none, all of them."""
        return list(models) if settings["model"] is None else [settings["model"]]

    def check(self, settings: dict, models: dict, classifier: bool, path, checker) -> None:
        """Check the settings of a study file (defaults filled in) beyond their keys; may
        fill in what the task decides."""
        for name, options in self.choices.items():
            if name in settings and settings[name] is not None:
                checker.choice(settings[name], (*path, name), options)

    def run(self, study, settings: dict, split: tuple, fitted: dict) -> tuple[object, dict]:
        """The result, and what else its record keeps (JSON-able), of a fitted analysis.

        ``split`` is ``(seed, (X_train, X_test, y_train, y_test))``, the held-out split of
        ``settings["test_size"]``; ``fitted`` caches models fitted on a split, shared by the
        analyses of one run.
        """
        raise NotImplementedError

    def fitted_model(self, study, settings: dict, split: tuple, fitted: dict):
        """The study's model of ``settings["model"]`` fitted on the split's training rows
        (once per model and split, for every analysis that asks)."""
        seed, (X_train, _, y_train, _) = split
        key = (settings["model"], settings["test_size"])
        if key not in fitted:
            model = clone(study._models[settings["model"]])
            fitted[key] = set_random_states(model, seed, only_unset=True).fit(X_train, y_train)
        return fitted[key]

    def check_record(self, result, record: dict, study: dict, reader):
        """The result decoded from a run folder's record, every value checked."""
        return decode(self.result_type, result, reader, "result")

    def lines(self, model: str, result) -> list[str]:
        """What ``ensemblekit show`` says of the result, in words."""
        return []

    def section(self, run, result, settings: dict) -> dict:
        """What the report's template for this kind (``templates/analyses/KIND.html``)
        shows, besides the settings."""
        return {}
