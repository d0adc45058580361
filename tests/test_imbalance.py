"""Focal loss, class-balanced weights, balanced batches, balanced bagging, prior correction."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.class_weight import compute_class_weight as sklearn_class_weight

from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.imbalance import (
    BalancedBatchSampler,
    FocalLoss,
    compute_class_weight,
    correct_prior_shift,
)
from ensemblekit.nets import NeuralNetClassifier
from ensemblekit.utils._resample import resampling_targets

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def skewed():
    """95/5 binary problem, split 70/30 with the same share in both parts."""
    X, y = make_classification(
        n_samples=3000, n_features=10, n_informative=5, weights=[0.95], flip_y=0.02,
        random_state=0,
    )  # fmt: skip
    return train_test_split(X.astype(np.float32), y, test_size=0.3, stratify=y, random_state=0)


def _net(**kw):
    return NeuralNetClassifier(module__hidden_units=(16,), max_epochs=5, lr=1e-2, **kw)


# ---------------------------------------------------------------- focal loss
def test_focal_gamma_zero_is_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(50, 4, generator=g), torch.randint(0, 4, (50,), generator=g)
    ce = F.cross_entropy(logits, target, reduction="none")
    torch.testing.assert_close(
        FocalLoss(gamma=0.0, reduction="none")(logits, target), ce, atol=1e-6, rtol=0
    )
    alpha = [0.5, 1.0, 2.0, 0.25]
    weighted = FocalLoss(gamma=0.0, alpha=alpha, reduction="none")(logits, target)
    torch.testing.assert_close(weighted, ce * torch.tensor(alpha)[target], atol=1e-6, rtol=0)


def test_focal_multiclass_equals_the_formula():
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(40, 3, generator=g), torch.randint(0, 3, (40,), generator=g)
    p_t = torch.softmax(logits.double(), 1)[torch.arange(40), target]
    expected = (-0.7 * (1 - p_t) ** 2.5 * torch.log(p_t)).mean()
    got = FocalLoss(gamma=2.5, alpha=0.7)(logits, target)
    assert got.item() == pytest.approx(expected.item(), abs=1e-6)


def test_focal_binary_equals_torchvision_sigmoid_focal_loss_formula():
    """torchvision.ops.sigmoid_focal_loss, written out (torchvision does not import here)."""
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(64, generator=g), torch.randint(0, 2, (64,), generator=g).float()
    p = torch.sigmoid(x)
    ce = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    alpha_t = 0.25 * y + 0.75 * (1 - y)
    expected = alpha_t * (1 - p_t) ** 2 * ce
    got = FocalLoss(gamma=2.0, alpha=0.25, reduction="none")(x, y)
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    assert FocalLoss(reduction="sum")(x, y).item() == pytest.approx(
        (ce * (1 - p_t) ** 2).sum().item(), rel=1e-6
    )


def test_focal_errors():
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        FocalLoss(gamma=-1.0)
    with pytest.raises(ValueError, match="alpha has 2 weights but the logits have 3"):
        FocalLoss(alpha=[1.0, 2.0])(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="binary form takes a float alpha"):
        FocalLoss(alpha=[1.0, 2.0])(torch.zeros(4), torch.zeros(4))


def test_focal_loss_in_a_net_searchable_and_weighted(skewed):
    X_tr, _, y_tr, _ = skewed
    net = _net(criterion=FocalLoss, random_state=0)
    search = GridSearchCV(net, {"criterion__gamma": [0.0, 2.0]}, cv=2, scoring="roc_auc").fit(
        X_tr, y_tr
    )
    assert search.best_params_["criterion__gamma"] in (0.0, 2.0)
    plain = net.fit(X_tr, y_tr).predict_proba(X_tr)
    ones = _net(criterion=FocalLoss, random_state=0).fit(
        X_tr, y_tr, sample_weight=np.ones(len(y_tr))
    )
    np.testing.assert_array_equal(ones.predict_proba(X_tr), plain)
    balanced = _net(criterion=FocalLoss, class_weight="balanced", random_state=0).fit(X_tr, y_tr)
    assert balanced.predict_proba(X_tr)[:, 1].mean() > plain[:, 1].mean()


# ---------------------------------------------------------------- class weights
def test_compute_class_weight_by_hand_and_against_sklearn():
    y = np.array([0] * 90 + [1] * 10)
    np.testing.assert_allclose(
        compute_class_weight(y, method="balanced"),
        sklearn_class_weight("balanced", classes=np.array([0, 1]), y=y),
    )
    effective = np.array([1 / ((1 - 0.9**90) / 0.1), 1 / ((1 - 0.9**10) / 0.1)])
    np.testing.assert_allclose(
        compute_class_weight(y, method="effective", beta=0.9), effective * 2 / effective.sum()
    )
    np.testing.assert_allclose(compute_class_weight(y, method="effective", beta=0.0), [1.0, 1.0])
    near_one = compute_class_weight(y, method="effective", beta=1 - 1e-9)
    balanced = compute_class_weight(y, method="balanced")
    np.testing.assert_allclose(near_one, balanced * 2 / balanced.sum(), rtol=1e-5)
    assert compute_class_weight(y, method="effective").sum() == pytest.approx(2.0)


def test_compute_class_weight_errors():
    with pytest.raises(ValueError, match="beta must be in \\[0, 1\\)"):
        compute_class_weight([0, 1], method="effective", beta=1.0)
    with pytest.raises(ValueError, match="method must be"):
        compute_class_weight([0, 1], method="inverse")


def test_net_effective_class_weight_equals_its_sample_weights(skewed):
    X_tr, _, y_tr, _ = skewed
    weights = compute_class_weight(y_tr, method="effective", beta=0.99)
    by_class = _net(class_weight="effective", class_weight_beta=0.99, random_state=0).fit(
        X_tr, y_tr
    )
    by_rows = _net(random_state=0).fit(X_tr, y_tr, sample_weight=weights[y_tr])
    np.testing.assert_allclose(by_class.predict_proba(X_tr), by_rows.predict_proba(X_tr), atol=1e-6)
    with pytest.raises(ValueError, match="'class_weight' parameter of NeuralNetClassifier"):
        _net(class_weight="inverse").fit(X_tr, y_tr)


# ---------------------------------------------------------------- balanced batches
def test_balanced_batch_sampler_balances_and_is_reproducible():
    y = np.array([0] * 190 + [1] * 10)
    sampler = BalancedBatchSampler(y, batch_size=20, random_state=0)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 10
    assert all(len(b) == 20 and (y[b] == 1).sum() == 10 for b in batches)
    assert set(np.concatenate(batches)[y[np.concatenate(batches)] == 1]) == set(range(190, 200))
    again = list(BalancedBatchSampler(y, batch_size=20, random_state=0))
    assert batches == again
    ratio = list(
        BalancedBatchSampler(y, batch_size=20, sampling_ratio={0: 3, 1: 1}, random_state=0)
    )
    assert all((y[b] == 1).sum() == 5 for b in ratio)
    loader = torch.utils.data.DataLoader(torch.arange(200), batch_sampler=sampler)
    assert sum(len(b) for b in loader) == 200


def test_balanced_batch_sampler_errors():
    with pytest.raises(ValueError, match="not in y"):
        BalancedBatchSampler([0, 1], batch_size=2, sampling_ratio={2: 1})
    with pytest.raises(ValueError, match="batch_size"):
        BalancedBatchSampler([0, 1], batch_size=0)


def test_net_with_balanced_batches(skewed):
    X_tr, _, y_tr, _ = skewed
    net = _net(batch_sampler="balanced", batch_size=32, random_state=0).fit(X_tr, y_tr)
    assert len(net.history[0, "batches"]) == -(-len(y_tr) // 32)
    again = _net(batch_sampler="balanced", batch_size=32, random_state=0).fit(X_tr, y_tr)
    np.testing.assert_array_equal(net.predict_proba(X_tr), again.predict_proba(X_tr))
    plain = _net(batch_size=32, random_state=0).fit(X_tr, y_tr)
    assert net.predict_proba(X_tr)[:, 1].mean() > 2 * plain.predict_proba(X_tr)[:, 1].mean()
    ratio = _net(
        batch_sampler=BalancedBatchSampler, batch_sampler__sampling_ratio={0: 3, 1: 1},
        random_state=0,
    ).fit(X_tr, y_tr)  # fmt: skip
    assert ratio.get_params()["batch_sampler__sampling_ratio"] == {0: 3, 1: 1}


# ---------------------------------------------------------------- balanced bagging
@pytest.mark.parametrize("strategy", ["auto", 0.5, {0: 100, 1: 50}])
def test_sampling_strategy_means_what_imbalanced_learn_means(strategy):
    under = pytest.importorskip("imblearn.under_sampling")
    y = np.array([0] * 300 + [1] * 60)
    sampler = under.RandomUnderSampler(sampling_strategy=strategy).fit(np.zeros((360, 1)), y)
    theirs = dict(sampler.sampling_strategy_)
    ours = resampling_targets({0: 300, 1: 60}, strategy)
    counts = {0: 300, 1: 60}
    assert {c: ours[c] for c in theirs} == theirs  # the classes imblearn resamples...
    assert all(ours[c] == counts[c] for c in counts if c not in theirs)  # ...and the rest kept


def test_balanced_bagging_members_and_prior_correction(skewed):
    X_tr, X_te, y_tr, y_te = skewed
    tree = DecisionTreeClassifier(max_depth=4)
    bag = BaggingClassifier(tree, 15, sampling_strategy="auto", random_state=0).fit(X_tr, y_tr)
    for rows in bag.estimators_samples_:
        counts = np.bincount(y_tr[rows])
        assert counts[0] == counts[1]
    np.testing.assert_allclose(bag.train_prior_, [0.5, 0.5])
    np.testing.assert_allclose(bag.class_prior_, np.bincount(y_tr) / len(y_tr))
    raw = bag.predict_proba(X_te)[:, 1].mean()
    corrected = bag.set_params(correct_prior=True).predict_proba(X_te)[:, 1].mean()
    rate = y_te.mean()
    assert raw > 2 * rate
    assert abs(corrected - rate) < 0.02  # within noise of the held-out rate (~0.05)


def test_bagging_with_replacement_and_oversampling(skewed):
    X_tr, _, y_tr, _ = skewed
    n_minority = int(np.bincount(y_tr)[1])
    bag = BaggingClassifier(
        DecisionTreeClassifier(), 3, sampling_strategy={1: 3 * n_minority}, replacement=True,
        random_state=0,
    ).fit(X_tr, y_tr)  # fmt: skip
    for rows in bag.estimators_samples_:
        assert np.bincount(y_tr[rows])[1] == 3 * n_minority


def test_bagging_sampling_errors(skewed, digits):
    X_tr, _, y_tr, _ = skewed
    tree = DecisionTreeClassifier()
    with pytest.raises(ValueError, match="not both"):
        under = pytest.importorskip("imblearn.under_sampling")
        BaggingClassifier(
            tree, 2, sampling_strategy="auto", sampler=under.RandomUnderSampler()
        ).fit(X_tr, y_tr)
    with pytest.raises(ValueError, match="names classes \\[7\\] not in y"):
        BaggingClassifier(tree, 2, sampling_strategy={7: 10}).fit(X_tr, y_tr)
    X, y = digits
    with pytest.raises(ValueError, match="needs two classes"):
        BaggingClassifier(tree, 2, sampling_strategy=0.5).fit(X, y)


def test_imblearn_samplers_inside_members_and_pipelines(skewed):
    over = pytest.importorskip("imblearn.over_sampling")
    under = pytest.importorskip("imblearn.under_sampling")
    from imblearn.pipeline import Pipeline

    X_tr, X_te, y_tr, y_te = skewed
    bag = BaggingClassifier(
        _net(), 3, sampler=over.SMOTE(random_state=0), correct_prior=True, random_state=0
    ).fit(X_tr, y_tr)
    assert type(bag[0]).__name__ == "Pipeline"
    np.testing.assert_allclose(bag.train_prior_, [0.5, 0.5])
    assert bag.predict_proba(X_te).shape == (len(X_te), 2)
    smote_net = Pipeline([("smote", over.SMOTE(random_state=0)), ("net", _net(random_state=0))])
    assert smote_net.fit(X_tr, y_tr).score(X_te, y_te) > 0.8
    under_bag = Pipeline(
        [
            ("under", under.RandomUnderSampler(random_state=0)),
            ("bag", BaggingClassifier(_net(), 2, random_state=0)),
        ]
    )
    assert under_bag.fit(X_tr, y_tr).predict(X_te).shape == y_te.shape


# ---------------------------------------------------------------- prior correction
def test_correct_prior_shift_by_hand_and_on_held_out_data(skewed):
    np.testing.assert_allclose(
        correct_prior_shift(
            [[0.5, 0.5], [0.2, 0.8]], train_prior=[0.5, 0.5], true_prior=[0.9, 0.1]
        ),
        [[0.9, 0.1], [0.18 / 0.26, 0.08 / 0.26]],
    )
    X_tr, X_te, y_tr, y_te = skewed
    under = pytest.importorskip("imblearn.under_sampling")
    X_bal, y_bal = under.RandomUnderSampler(random_state=0).fit_resample(X_tr, y_tr)
    proba = LogisticRegression().fit(X_bal, y_bal).predict_proba(X_te)
    fixed = correct_prior_shift(
        proba, train_prior=[0.5, 0.5], true_prior=np.bincount(y_tr) / len(y_tr)
    )
    rate = y_te.mean()
    assert proba[:, 1].mean() > 3 * rate
    assert abs(fixed[:, 1].mean() - rate) < 0.015
    with pytest.raises(ValueError, match="one share per column"):
        correct_prior_shift(proba, train_prior=[1.0], true_prior=[1.0])
    with pytest.raises(ValueError, match="train_prior must be finite positive"):
        correct_prior_shift(proba, train_prior=[0.0, 1.0], true_prior=[0.5, 0.5])
