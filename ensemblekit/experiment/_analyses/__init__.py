"""The analyses a study can ask for, one module each, in one registry."""

from ._base import Analysis
from ._bias_variance import BiasVariance
from ._calibration import Calibration
from ._comparison import Comparison
from ._conformal import Conformal
from ._size_curve import SizeCurve
from ._uncertainty import Uncertainty

#: Every analysis by its name in a study file, in the order a report shows them.
ANALYSES: dict[str, Analysis] = {
    analysis.kind: analysis
    for analysis in (
        Comparison(),
        Calibration(),
        BiasVariance(),
        SizeCurve(),
        Uncertainty(),
        Conformal(),
    )
}

#: The analyses fitted on held-out rows once the folds are done (their results are recorded).
FITTED: dict[str, Analysis] = {k: a for k, a in ANALYSES.items() if a.result_type is not None}

__all__ = ["ANALYSES", "FITTED", "Analysis"]
