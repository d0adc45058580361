"""The bias-variance decomposition of one model, or its curve over a parameter."""

from __future__ import annotations

from typing import ClassVar

from ...model_selection import (
    BiasVarianceDisplay,
    BiasVarianceResult,
    bias_variance_curve,
    bias_variance_decomp,
)
from .._kit import decode, figure, hint, pyplot
from ._base import Analysis


class BiasVariance(Analysis):
    """Bootstrap rounds of a model on held-out rows: expected loss = bias + variance."""

    kind = "bias_variance"
    defaults: ClassVar[dict] = {
        "model": None,
        "loss": None,
        "n_rounds": 50,
        "test_size": 0.25,
        "param_name": None,
        "param_range": None,
    }
    types: ClassVar[dict] = {
        "model": "string",
        "loss": "string",
        "n_rounds": "integer",
        "test_size": "number",
        "param_name": "string?",
        "param_range": "list?",
    }
    choices: ClassVar[dict] = {"loss": ("0-1", "log_loss", "mse")}
    result_type = BiasVarianceResult

    def check(self, settings, models, classifier, path, checker) -> None:
        losses = ("0-1", "log_loss") if classifier else ("mse",)
        settings["loss"] = settings["loss"] or losses[0]
        checker.choice(settings["loss"], (*path, "loss"), losses)
        checker.number(settings["n_rounds"], (*path, "n_rounds"), 2, None, integer=True)
        name, values = settings["param_name"], settings["param_range"]
        if (name is None) != (values is None):
            checker.fail(
                path,
                "param_name and param_range go together: give both for a curve, neither "
                "for one decomposition.",
            )
        if name is not None:
            params = models[settings["model"]].get_params(deep=True)
            if name not in params:
                checker.fail(
                    (*path, "param_name"),
                    f"is not a parameter of model {settings['model']!r}; {hint(name, params)}",
                )
            if not isinstance(values, list) or len(values) < 2:
                checker.fail((*path, "param_range"), "must list at least two values.")

    def run(self, study, settings, split, fitted):
        seed, (X_train, X_test, y_train, y_test) = split
        model = study._models[settings["model"]]
        common = {
            "loss": settings["loss"],
            "n_rounds": settings["n_rounds"],
            "random_state": seed,
            "n_jobs": study.n_jobs,
        }
        if settings["param_name"] is None:
            return [bias_variance_decomp(model, X_train, y_train, X_test, y_test, **common)], {}
        curve = bias_variance_curve(
            model, X_train, y_train, X_test, y_test, param_name=settings["param_name"],
            param_range=settings["param_range"], **common,
        )  # fmt: skip
        return curve, {}

    def check_record(self, result, record, study, reader):
        if not reader.list(result, "result"):
            reader.fail("result", "holds no decomposition.")
        return [
            decode(self.result_type, item, reader, f"result[{i}]") for i, item in enumerate(result)
        ]

    def lines(self, model, result):
        lines = []
        for r in result:
            where = ", ".join(f"{k}={v!r}" for k, v in r.params.items())
            variance = r.net_variance if r.net_variance is not None else r.variance
            word = "net variance" if r.net_variance is not None else "variance"
            lines.append(
                f"bias-variance of {model!r}{f' ({where})' if where else ''}, {r.loss} "
                f"loss: {r.expected_loss:.4f} = bias {r.bias:.4f} + {word} {variance:.4f}"
            )
        return lines

    def section(self, run, result, settings):
        section = {
            "results": result,
            "names": list(result[0].params) or ["model"],
            "zero_one": result[0].net_variance is not None,  # expected = bias + net variance
            "figure": None,
        }
        if len(result) > 1:
            fig, ax = pyplot().subplots(figsize=(6, 4), constrained_layout=True)
            BiasVarianceDisplay.from_result(result, ax=ax)
            section["figure"] = figure(fig)
        return section
