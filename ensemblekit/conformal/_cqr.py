"""Conformalized quantile regression (Romano, Patterson & Candès 2019): models of the
lower and upper quantiles of y given x, widened by the calibration rows' worst miss.

A net learns every quantile at once, as the outputs of one module trained on the pinball
loss (one fit); a scikit-learn quantile regressor (a ``quantile`` parameter, as
``HistGradientBoostingRegressor(loss="quantile")`` and ``QuantileRegressor`` have, or
``alpha`` with ``loss="quantile"`` in ``GradientBoostingRegressor``) is fitted once per
quantile."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from ..nets import NeuralNetRegressor, PinballLoss
from ..utils._random import set_random_states


def quantiles_for(levels) -> tuple[float, ...]:
    """The quantiles CQR learns for ``levels``: each level's two tails, and the median."""
    tails = [(1 - level) / 2 for level in levels] + [(1 + level) / 2 for level in levels]
    return tuple(sorted({round(float(q), 10) for q in [*tails, 0.5]}))


def _quantile_param(estimator) -> str:
    params = estimator.get_params()
    if "quantile" in params:
        return "quantile"
    if "alpha" in params and params.get("loss") == "quantile":
        return "alpha"
    raise TypeError(
        f"method='cqr' needs a model of quantiles: a NeuralNetRegressor (trained on the "
        "pinball loss), or a scikit-learn regressor with a quantile parameter "
        "(HistGradientBoostingRegressor(loss='quantile'), QuantileRegressor, "
        f"GradientBoostingRegressor(loss='quantile')); got {type(estimator).__name__}."
    )


class QuantileModels:
    """The fitted quantile models: ``__call__(X)`` gives (n, n_quantiles) predictions, in
    the order of ``quantiles``."""

    def __init__(self, estimator, quantiles, seed: int, X, y, prefit: bool):
        self.quantiles, self.net, self.models = quantiles, None, None
        if isinstance(estimator, NeuralNetRegressor):
            self.net = estimator if prefit else _fit_quantile_net(estimator, quantiles, seed, X, y)
            learned = [round(q, 10) for q in self.net.criterion_.quantiles]
            missing = [q for q in quantiles if q not in learned]
            if not self.net.predicts_quantiles() or missing:
                raise ValueError(
                    f"method='cqr' with prefit=True needs a net trained with "
                    f"criterion=PinballLoss on the quantiles {list(quantiles)}: fit it with "
                    f"criterion__quantiles={list(quantiles)}."
                )
            self.columns = [learned.index(q) for q in quantiles]
        elif prefit:
            raise TypeError(
                "method='cqr' with prefit=True takes a NeuralNetRegressor trained with "
                f"criterion=PinballLoss, got {type(estimator).__name__}; or pass prefit=False."
            )
        else:
            name = _quantile_param(estimator)
            self.models = [
                set_random_states(clone(estimator).set_params(**{name: q}), seed, only_unset=True)
                .fit(X, y)
                for q in quantiles
            ]  # fmt: skip

    def __call__(self, X) -> np.ndarray:
        if self.net is not None:
            return np.asarray(self.net.predict_quantiles(X), dtype=float)[:, self.columns]
        return np.stack([np.asarray(m.predict(X), dtype=float) for m in self.models], axis=1)

    def band(self, predicted: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """``level``'s lower and upper quantile predictions, in order where the two models
        cross (the same rearrangement at calibration and prediction keeps the guarantee)."""
        low, high = self.columns_of(level)
        return (
            np.minimum(predicted[:, low], predicted[:, high]),
            np.maximum(predicted[:, low], predicted[:, high]),
        )

    def columns_of(self, level: float) -> tuple[int, int]:
        """The positions of ``level``'s lower and upper quantiles."""
        return self.quantiles.index(round((1 - level) / 2, 10)), self.quantiles.index(
            round((1 + level) / 2, 10)
        )


def _fit_quantile_net(net, quantiles, seed, X, y):
    """One net, one output per quantile, trained on the pinball loss."""
    net = clone(net).set_params(criterion=PinballLoss, criterion__quantiles=quantiles)
    return set_random_states(net, seed, only_unset=True).fit(X, y)
