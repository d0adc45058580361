"""Every private name ensemblekit takes from scikit-learn, skorch and torch, in one place.

The rest of the package imports these names from here, and ``tests/test_private.py`` fails
loudly, naming the name, when a new release of scikit-learn, skorch or torch removes one.
Each comes with the risk of relying on it and what we would do if it went.
"""

from __future__ import annotations

# ---------------------------------------------------------------- scikit-learn
# Parameter constraints. scikit-learn documents ``_parameter_constraints`` for third-party
# estimators and validates them in ``BaseEstimator._validate_params``, but keeps the
# constraint classes in a private module (``Hidden`` marks the placeholder of a renamed
# parameter, as scikit-learn's own deprecations do). Risk: low (third-party estimators such as
# imbalanced-learn use them too); if they went, ``_parameter_constraints`` would fall
# back to plain types and callables.
# ``validate_parameter_constraints`` checks the nets' parameters: skorch's ``NeuralNet``
# has a ``_validate_params`` of its own, which hides scikit-learn's. Risk: as above.
# Row and column indexing of arrays, DataFrames, sparse matrices and lists alike. Listed
# in scikit-learn's API reference although its name is private. Risk: low; a numpy and
# pandas ``take`` would replace it.
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import (
    HasMethods,
    Hidden,
    Interval,
    Options,
    RealNotInt,
    StrOptions,
    validate_parameter_constraints,
)

# ---------------------------------------------------------------- torch
# One kernel call for a list of tensors (the norms of every weight tensor of a net), as
# torch's own optimizers use them: the training monitors call them on every batch, where
# one call per tensor cost them 5 to 10% of a small net's fit. Risk: low (torch.optim
# depends on them); without them, one ``torch.linalg.vector_norm`` per tensor.
from torch import _foreach_copy_, _foreach_norm, _foreach_sub_

__all__ = [
    "PRIVATE_MEMBERS",
    "HasMethods",
    "Hidden",
    "Interval",
    "Options",
    "RealNotInt",
    "StrOptions",
    "_foreach_copy_",
    "_foreach_norm",
    "_foreach_sub_",
    "_safe_indexing",
    "validate_parameter_constraints",
]

#: Private methods and attributes of other packages' classes that ensemblekit calls,
#: reads or overrides: ``(package, class, name) -> why, and the risk``.
PRIVATE_MEMBERS: dict[tuple[str, str, str], str] = {
    ("sklearn", "BaseSearchCV", "_get_scorers"): (
        "overridden by the stacked grid, random and halving searches, which resolve this "
        "package's scorer names (neg_multiclass_brier_score) for scikit-learn's loop "
        "without writing the resolved scorers to their scoring parameter. scikit-learn's "
        "fit and get_metadata_routing ask it. Risk: low."
    ),
    ("sklearn", "BaseSuccessiveHalving", "_check_input_parameters"): (
        "overridden by the stacked halving searches: max_resources='auto' for a net's "
        "parameter (max_epochs) is the net's own value, where scikit-learn's 'auto' is "
        "the number of rows; the override checks a copy, never writing max_resources. "
        "Risk: medium (it sets min_resources_ and max_resources_, which the override "
        "copies back)."
    ),
    ("sklearn", "BaseEstimator", "_validate_params"): (
        "called at the start of every ensemble's fit, as scikit-learn's own estimators "
        "do, to check the parameters against _parameter_constraints. Risk: low."
    ),
    ("sklearn", "BaseEstimator", "_get_param_names"): (
        "overridden by the nets: their parameters are what their constructor stored, "
        "prefixed ones (module__hidden_units) included, as skorch's nets do. Risk: low."
    ),
    ("skorch", "NeuralNet", "_params_to_validate"): (
        "set by the nets' constructor, which does not call skorch's: skorch's __init__ "
        "sets fitted-looking attributes (history_, initialized_) that scikit-learn forbids "
        "in a constructor and rejects parameters skorch does not know (random_state). "
        "skorch reads this set when it checks prefixed parameters. Risk: medium; "
        "tests/test_private.py checks that our nets have every attribute skorch's "
        "constructor sets."
    ),
    ("skorch", "NeuralNet", "_default_callbacks"): (
        "extended by the nets with EarlyStopping (early_stopping=True), as skorch's own "
        "classifier extends it. Risk: low."
    ),
    ("skorch", "NeuralNet", "_get_predict_nonlinearity"): (
        "the nonlinearity predict_proba applies; read by the stacked predictor so that "
        "stacked and one-by-one predictions agree. Risk: low."
    ),
    ("skorch", "NeuralNet", "_set_training"): (
        "called in the training and validation steps, as skorch's own steps call it, and "
        "overridden to skip the call when the mode is unchanged (skorch sets it on every "
        "step): measured 0.69 s against 0.78 s for 20 epochs of a small net on digits. "
        "Risk: medium; without it the nets would call module_.train() themselves."
    ),
    ("skorch", "NeuralNet", "_modules"): "read by that override. Risk: as _set_training.",
    ("skorch", "NeuralNet", "_criteria"): "read by that override. Risk: as _set_training.",
    ("torch", "Tensor", "_version"): (
        "the counter autograd bumps on every in-place change, read to know that members' "
        "weights are unchanged since their stack was built (the stacked predictor's cache). "
        "Risk: low (autograd relies on it); without it the cache would be rebuilt per call."
    ),
}

# Public, but overridden: skorch's ``NeuralNet.notify`` is replaced by one that skips
# callbacks whose hook is a no-op (0.69 s against 0.76 s, as measured above).
