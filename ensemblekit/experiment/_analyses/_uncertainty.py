"""What an ensemble does not know: the uncertainty of its predictions on held-out rows."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ...model_selection import PredictiveUncertainty, predictive_uncertainty
from .._kit import encode, figure, pyplot
from ._base import Analysis


class Uncertainty(Analysis):
    """Total, aleatoric and epistemic uncertainty of an ensemble's held-out predictions."""

    kind = "uncertainty"
    defaults: ClassVar[dict] = {"model": None, "test_size": 0.25}
    types: ClassVar[dict] = {"model": "string", "test_size": "number"}
    result_type = PredictiveUncertainty
    needs_ensemble = True

    def run(self, study, settings, split, fitted):
        _, (_, X_test, _, y_test) = split
        model = self.fitted_model(study, settings, split, fitted)
        return predictive_uncertainty(model, X_test), {"y_true": encode(np.asarray(y_test))}

    def check_record(self, result, record, study, reader):
        decoded = super().check_record(result, record, study, reader)
        n = len(reader.array(*reader.get(record, "y_true"), ndim=1))
        for name in ("total", "aleatoric", "epistemic", "prediction"):
            value = getattr(decoded, name)
            if value is not None and (value.ndim not in (1, 2) or value.shape[0] != n):
                reader.fail(f"result.{name}", f"must hold one value (or row) for each of {n} rows.")
        classes = study["data"]["classes"]
        if classes is not None and decoded.prediction.shape[1:] != (len(classes),):
            reader.fail("result.prediction", f"must hold a column per class ({len(classes)}).")
        return decoded

    def lines(self, model, result):
        parts = [
            f"mean {name} {getattr(result, name).mean():.4g}"
            for name in ("total", "aleatoric", "epistemic")
            if getattr(result, name) is not None
        ]
        return [f"uncertainty of {model!r} on held-out rows: {', '.join(parts)}"]

    def section(self, run, result, settings):
        plt = pyplot()
        record = run.analysis_record("uncertainty")
        y_true = np.asarray(record["y_true"]["array"])
        names = [n for n in ("total", "aleatoric", "epistemic") if getattr(result, n) is not None]
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.4), squeeze=False)
        if run.study["task"] == "classification":
            classes = np.asarray(run.study["data"]["classes"])
            right = classes[result.prediction.argmax(axis=1)] == y_true
            groups = {"right": right, "wrong": ~right}
        else:
            groups = {"held-out rows": np.ones(len(result.total), dtype=bool)}
        # Densities: each group's histogram has area 1, so 16 wrong rows show beside 434
        # right ones (in counts they would be a sliver).
        unit = "nats" if run.study["task"] == "classification" else "squared units of y"
        for i, (ax, name) in enumerate(zip(axes[0], names, strict=True)):
            values = getattr(result, name)
            low, high = float(values.min()), float(values.max())
            ax.set_title(name)
            ax.set_xlabel(f"{name} uncertainty ({unit})")
            if high - low <= 1e-9 * max(1.0, abs(high)):  # one value: no histogram to draw
                ax.text(0.5, 0.5, f"every row: {high:.3g} {unit}", ha="center",
                        transform=ax.transAxes)  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            bins = np.linspace(low, high, 25)
            for label, rows in groups.items():
                if rows.any():
                    ax.hist(
                        values[rows], bins=bins, alpha=0.6, density=True,
                        label=f"{label} ({rows.sum()} rows)",
                    )  # fmt: skip
            if i == 0:
                ax.set_ylabel("density (each group's area is 1)")
            ax.legend()
        fig.tight_layout()
        return {
            "n_rows": len(result.total),
            "means": [(n, float(getattr(result, n).mean())) for n in names],
            "split": len(groups) == 2,
            "figure": figure(fig),
        }
