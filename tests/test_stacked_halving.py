"""Successive halving of nets, each round stacked: scikit-learn's rounds, elimination and
results, with the candidates x folds of a round trained as one model."""

import warnings

import numpy as np
import pytest
from scipy.stats import loguniform
from sklearn.datasets import make_classification
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import HalvingGridSearchCV, HalvingRandomSearchCV

from ensemblekit.model_selection import (
    NotStackedWarning,
    StackedHalvingGridSearchCV,
    StackedHalvingRandomSearchCV,
)
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

GRID = {"lr": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], "optimizer__weight_decay": [0.0, 1e-3]}
NET = {"module__hidden_units": (16,), "batch_size": 64, "max_epochs": 9, "random_state": 0}


def _same_search(ours, theirs):
    """The same rounds, the same survivors, the same scores to float32 rounding."""
    assert ours.n_candidates_ == theirs.n_candidates_
    assert ours.n_resources_ == theirs.n_resources_
    assert ours.n_iterations_ == theirs.n_iterations_
    assert ours.best_params_ == theirs.best_params_
    for key in ("params", "iter", "n_resources"):
        assert list(ours.cv_results_[key]) == list(theirs.cv_results_[key]), key
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"], atol=1e-4
    )


@pytest.mark.parametrize("resource", ["max_epochs", "n_samples"])
def test_halving_grid_decides_as_scikit_learns(digits, resource):
    X, y = digits
    kwargs = {"resource": resource, "cv": 3, "scoring": "neg_log_loss", "random_state": 0}
    if resource == "max_epochs":
        kwargs["max_resources"] = 9  # scikit-learn's "auto" is for n_samples only
    else:  # rounds of 44, 133 and 400 rows: every round's folds hold every class
        X, y = make_classification(400, 20, n_informative=6, random_state=0)
    net = NeuralNetClassifier(**NET)
    ours = StackedHalvingGridSearchCV(net, GRID, **kwargs).fit(X, y)
    theirs = HalvingGridSearchCV(net, GRID, **kwargs).fit(X, y)
    _same_search(ours, theirs)
    # Every round trained stacked: all its candidates x folds as one model.
    assert [g["n_fits"] for g in ours.stacked_groups_] == [3 * n for n in ours.n_candidates_]
    assert all(g["stacked"] for g in ours.stacked_groups_)
    if resource == "max_epochs":
        assert ours.n_resources_ == [1, 3, 9] and ours.n_candidates_ == [12, 4, 2]
        assert ours.best_params_["max_epochs"] == 9
        assert ours.best_estimator_.max_epochs == 9
        assert len(ours.best_estimator_.history) == 9


def test_halving_random_search_decides_as_scikit_learns(digits):
    X, y = digits
    net = NeuralNetClassifier(**NET)
    space = {"lr": loguniform(1e-4, 1e-1)}
    kwargs = {
        "n_candidates": 9, "resource": "max_epochs", "min_resources": 1, "max_resources": 9,
        "cv": 3, "scoring": "neg_log_loss", "random_state": 0,
    }  # fmt: skip
    ours = StackedHalvingRandomSearchCV(net, space, **kwargs).fit(X, y)
    theirs = HalvingRandomSearchCV(net, space, **kwargs).fit(X, y)
    _same_search(ours, theirs)
    assert ours.n_candidates_ == [9, 3, 1]


def test_auto_takes_the_most_resource_from_the_net_and_leaves_the_parameter(digits):
    X, y = digits
    search = StackedHalvingGridSearchCV(NeuralNetClassifier(**NET), {"lr": [1e-3, 1e-2]}, cv=2)
    search.fit(X, y)
    assert search.max_resources_ == 9 and search.max_resources == "auto"
    assert search.get_params()["max_resources"] == "auto"
    bad = StackedHalvingGridSearchCV(
        NeuralNetClassifier(**NET), {"lr": [1e-3]}, resource="module__dropout", cv=2
    )
    with pytest.raises(ValueError, match="resource='module__dropout' needs an integer"):
        bad.fit(X, y)
    # A resource the estimator does not have, or a non-net with the default resource: the
    # message speaks of the resource and names the fix.
    for estimator, resource, fix in [
        (NeuralNetClassifier(**NET), "epochs", "use resource='max_epochs'"),
        (LogisticRegression(), "max_epochs", "name an integer parameter of it"),
    ]:
        search = StackedHalvingGridSearchCV(estimator, {}, resource=resource, cv=2)
        with (
            warnings.catch_warnings(),  # a LogisticRegression is searched as scikit-learn does
            pytest.raises(ValueError, match=f"resource='{resource}' is not a parameter.*{fix}"),
        ):
            warnings.simplefilter("ignore", NotStackedWarning)
            search.fit(X, y)
    with pytest.raises(ValueError, match="Cannot use parameter max_epochs as the resource"):
        StackedHalvingGridSearchCV(NeuralNetClassifier(**NET), {"max_epochs": [3, 9]}, cv=2).fit(
            X, y
        )


@pytest.mark.parametrize("resource", ["max_epochs", "n_samples"])
def test_every_rounds_loop_adopts_its_stacked_members(digits, resource, monkeypatch):
    """Only the refit trains in the search's loop: each round's fits take their members."""
    from ensemblekit.nets._base import NeuralNetBase

    X, y = digits
    trained = []
    original = NeuralNetBase._train
    monkeypatch.setattr(
        NeuralNetBase, "_train", lambda net, data: trained.append(1) or original(net, data)
    )
    grid = {"lr": [1e-3, 3e-3, 1e-2, 3e-2]}
    search = StackedHalvingGridSearchCV(
        NeuralNetClassifier(**NET), grid, resource=resource, factor=2, cv=2, random_state=0
    ).fit(X, y)
    assert search.n_candidates_ == [4, 2, 1]
    assert len(trained) == 1


def test_survivors_train_on_instead_of_starting_again(digits, monkeypatch):
    """Over epochs the rounds are one stacked run: 12 x 3 members for 1 epoch, the best 4
    x 3 for 2 more, the best 2 x 3 for 6 more (96 member-epochs, against 126 when every
    round starts again); scores as scikit-learn's, which starts every round again."""
    from ensemblekit.nets import _stacked

    X, y = digits
    trained = []
    original = _stacked._Stack._train_epoch
    monkeypatch.setattr(
        _stacked._Stack,
        "_train_epoch",
        lambda stack: trained.append(len(stack.members)) or original(stack),
    )
    kwargs = {"cv": 3, "scoring": "neg_log_loss", "random_state": 0}
    ours = StackedHalvingGridSearchCV(NeuralNetClassifier(**NET), GRID, **kwargs).fit(X, y)
    assert ours.n_resources_ == [1, 3, 9] and ours.n_candidates_ == [12, 4, 2]
    assert sum(trained) == 12 * 3 * 1 + 4 * 3 * 2 + 2 * 3 * 6  # (the refit is a plain fit)
    theirs = HalvingGridSearchCV(NeuralNetClassifier(**NET), GRID, max_resources=9, **kwargs)
    monkeypatch.undo()
    _same_search(ours, theirs.set_params(resource="max_epochs").fit(X, y))
    # With early stopping (which may stop a member before a round's epochs), every round
    # starts again, as in scikit-learn.
    trained.clear()
    monkeypatch.setattr(
        _stacked._Stack,
        "_train_epoch",
        lambda stack: trained.append(len(stack.members)) or original(stack),
    )
    net = NeuralNetClassifier(**NET, early_stopping=True, n_iter_no_change=100)
    StackedHalvingGridSearchCV(net, GRID, **kwargs).fit(X, y)
    assert sum(trained) == 12 * 3 * 1 + 4 * 3 * 3 + 2 * 3 * 9


def test_training_on_gives_the_scores_of_starting_again_bit_for_bit(digits):
    """n_jobs=1 runs the rounds as one stacked run (survivors train on); n_jobs=2 starts
    every round again on two workers: the same cv_results_ and refit, bit for bit."""
    X, y = digits
    kwargs = {"cv": 3, "scoring": "neg_log_loss"}
    on = StackedHalvingGridSearchCV(NeuralNetClassifier(**NET), GRID, **kwargs).fit(X, y)
    again = StackedHalvingGridSearchCV(NeuralNetClassifier(**NET), GRID, n_jobs=2, **kwargs)
    again.fit(X, y)
    for key in ("mean_test_score", "split0_test_score", "split2_test_score"):
        np.testing.assert_array_equal(on.cv_results_[key], again.cv_results_[key])
    np.testing.assert_array_equal(
        on.best_estimator_.predict_proba(X), again.best_estimator_.predict_proba(X)
    )


@pytest.mark.parametrize("factor", [1, 0.5, 0, -2])
@pytest.mark.parametrize("search", [StackedHalvingGridSearchCV, StackedHalvingRandomSearchCV])
def test_a_factor_that_keeps_every_candidate_is_refused_by_name(search, factor, digits):
    """scikit-learn takes factor=1 and divides by log(1) = 0; a factor below 1 would keep
    more candidates than it has."""
    X, y = digits
    with pytest.raises(ValueError, match=r"The 'factor' parameter .* range \(1(\.0)?, inf\)"):
        search(NeuralNetClassifier(**NET), GRID, factor=factor, cv=2).fit(X, y)
