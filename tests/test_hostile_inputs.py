"""Helpers refuse what they cannot judge: NaN, infinity, a wrong type or an empty input
raise an error naming the argument, never a silent NaN or a number from invalid input."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from ensemblekit.model_selection import bootstrap_ci, corrected_resampled_ttest, mcnemar_test

Y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
P1 = np.array([0, 1, 1, 1, 1, 0, 0, 0])
P2 = np.array([1, 1, 0, 0, 1, 0, 1, 1])
SCORES = np.array([0.02, 0.01, 0.03, 0.00, 0.04])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("position", [0, 1, 2])
def test_mcnemar_refuses_a_label_that_is_not_finite(bad, position):
    arrays = [Y.astype(float), P1.astype(float), P2.astype(float)]
    arrays[position][0] = bad
    name = ["y_true", "y_pred1", "y_pred2"][position]
    with pytest.raises(ValueError, match=f"{name} holds NaN or infinity"):
        mcnemar_test(*arrays)


@pytest.mark.parametrize("exact", ["yes", 1, 0.5])
def test_mcnemar_exact_is_a_bool_or_none(exact):
    with pytest.raises(ValueError, match="exact must be True, False or None"):
        mcnemar_test(Y, P1, P2, exact=exact)
    assert mcnemar_test(Y, P1, P2, exact=np.True_).pvalue == mcnemar_test(Y, P1, P2).pvalue


@pytest.mark.parametrize("bad", [np.nan, np.inf, 0, -5, True, "80"])
def test_corrected_ttest_needs_positive_row_counts(bad):
    with pytest.raises(ValueError, match="n_train must be a positive number of rows"):
        corrected_resampled_ttest(SCORES, n_train=bad, n_test=20)
    with pytest.raises(ValueError, match="n_test must be a positive number of rows"):
        corrected_resampled_ttest(SCORES, n_train=80, n_test=bad)


def test_corrected_ttest_on_huge_scores_is_the_same_test():
    expected = corrected_resampled_ttest(SCORES, n_train=80, n_test=20)
    for a, b in [(SCORES * 1e308, None), (SCORES * 1e308, -SCORES * 1e308)]:
        result = corrected_resampled_ttest(a, b, n_train=80, n_test=20)
        scale = 1 if b is None else 2
        assert result.statistic == pytest.approx(expected.statistic) and scale
        assert result.pvalue == pytest.approx(expected.pvalue)


@pytest.mark.parametrize(
    ("a", "b"), [(SCORES, SCORES[:3]), (SCORES.reshape(5, 1), None), (SCORES[:1], None)]
)
def test_corrected_ttest_names_the_shapes(a, b):
    with pytest.raises(ValueError, match="scores_a and scores_b must be 1-D"):
        corrected_resampled_ttest(a, b, n_train=80, n_test=20)


def test_bootstrap_ci_refuses_an_undefined_score():
    p = np.linspace(0.1, 0.9, 40)
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="metric gives nan"):
        bootstrap_ci(np.zeros(40), p, roc_auc_score, n_resamples=50, random_state=0)
    rare = np.r_[1, np.zeros(39)]  # most resamples miss the one positive row
    with (
        pytest.warns(UserWarning),
        pytest.raises(ValueError, match="undefined on some of the resampled rows"),
    ):
        bootstrap_ci(rare, p, roc_auc_score, n_resamples=50, random_state=0)


def test_bootstrap_ci_names_a_metric_given_as_a_string():
    with pytest.raises(TypeError, match=r"such as sklearn\.metrics\.roc_auc_score"):
        bootstrap_ci(Y, P1, "roc_auc")
    with pytest.raises(TypeError, match="metric must be a function"):
        bootstrap_ci(Y, P1, "nonsense")
    assert bootstrap_ci(Y, P1, accuracy_score, n_resamples=50, random_state=0).estimate == 0.75
