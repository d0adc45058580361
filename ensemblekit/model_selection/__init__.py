"""Validation tools: bias-variance, bootstrap estimates, nested CV, model comparison."""

from ._bias_variance import (
    BiasVarianceResult,
    bias_variance_curve,
    bias_variance_decomp,
    decompose_log_loss,
    decompose_squared,
    decompose_zero_one,
)
from ._bias_variance_display import BiasVarianceDisplay
from ._bootstrap import (
    BootstrapCI,
    BootstrapScoreResult,
    bootstrap_ci,
    bootstrap_score,
    efron_estimate,
    leave_one_out_bootstrap_error,
)
from ._compare import compare_models
from ._compare_display import ComparisonDisplay
from ._comparison_table import ComparisonRow, ComparisonTable, ComparisonTables
from ._diversity import (
    BiasVarianceDiversityResult,
    DiversityResult,
    bias_variance_diversity_decomp,
    diversity_decomp,
)
from ._search import (
    BorderFinding,
    NestedCVResult,
    SearchBorderWarning,
    check_search_border,
    nested_cross_validate,
    refine_distributions,
    top_k_ensemble,
)
from ._significance import (
    SignificanceResult,
    corrected_resampled_ttest,
    mcnemar_test,
    paired_ttest_5x2cv,
)
from ._size_curve import EnsembleSizeCurve, EnsembleSizeDisplay, ensemble_size_curve
from ._stacked_halving import StackedHalvingGridSearchCV, StackedHalvingRandomSearchCV
from ._stacked_optuna import StackedOptunaSearchCV
from ._stacked_search import NotStackedWarning, StackedGridSearchCV, StackedRandomizedSearchCV
from ._uncertainty import PredictiveUncertainty, predictive_uncertainty

__all__ = [
    "refine_distributions",
    "StackedGridSearchCV",
    "StackedRandomizedSearchCV",
    "StackedHalvingGridSearchCV",
    "StackedHalvingRandomSearchCV",
    "StackedOptunaSearchCV",
    "BiasVarianceDiversityResult",
    "bias_variance_diversity_decomp",
    "DiversityResult",
    "EnsembleSizeCurve",
    "EnsembleSizeDisplay",
    "ensemble_size_curve",
    "PredictiveUncertainty",
    "diversity_decomp",
    "predictive_uncertainty",
    "BiasVarianceDisplay",
    "BorderFinding",
    "ComparisonDisplay",
    "ComparisonRow",
    "ComparisonTable",
    "ComparisonTables",
    "NestedCVResult",
    "NotStackedWarning",
    "SearchBorderWarning",
    "SignificanceResult",
    "check_search_border",
    "compare_models",
    "corrected_resampled_ttest",
    "mcnemar_test",
    "nested_cross_validate",
    "paired_ttest_5x2cv",
    "top_k_ensemble",
    "BiasVarianceResult",
    "BootstrapCI",
    "BootstrapScoreResult",
    "bias_variance_curve",
    "bias_variance_decomp",
    "bootstrap_ci",
    "bootstrap_score",
    "decompose_log_loss",
    "decompose_squared",
    "decompose_zero_one",
    "efron_estimate",
    "leave_one_out_bootstrap_error",
]


def __getattr__(name: str):
    if name == "TestResult":  # renamed: pytest collected it as a test class
        import warnings

        warnings.warn(
            "TestResult was renamed SignificanceResult in 0.1; the old name goes in 0.3.",
            FutureWarning,
            stacklevel=2,
        )
        return SignificanceResult
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
