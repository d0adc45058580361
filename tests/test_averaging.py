"""EMA and SWA callbacks: the averaged weights equal averages computed by hand."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from ensemblekit.averaging import EMA, SWA, model_soup
from ensemblekit.nets import NeuralNetClassifier

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _Recorder(Callback):
    """Copies of the module's weights at train begin, after each step and each epoch."""

    def initialize(self):
        self.start_, self.steps_, self.epochs_ = None, [], []
        return self

    def on_train_begin(self, net, **kwargs):
        self.start_ = _copy(net)

    def on_batch_end(self, net, training=False, **kwargs):
        if training:
            self.steps_.append(_copy(net))

    def on_epoch_end(self, net, **kwargs):
        self.epochs_.append(_copy(net))


def _copy(net):
    return {k: v.detach().clone() for k, v in net.module_.state_dict().items()}


def _net(callbacks, **kw):
    params = {"module__hidden_units": (8,), "max_epochs": 4, "lr": 1e-2, "batch_size": 64}
    return NeuralNetClassifier(callbacks=callbacks, **{"random_state": 0, **params, **kw})


def test_ema_with_decay_zero_is_exactly_the_plain_net(digits):
    X, y = digits
    plain = _net(None).fit(X, y).predict_proba(X)
    ema = _net([("ema", EMA(decay=0.0))]).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(plain, ema)


def test_ema_weights_equal_the_running_average_by_hand(digits):
    X, y = digits
    net = _net([("rec", _Recorder()), ("ema", EMA(decay=0.8))]).fit(X, y)
    rec = dict(net.callbacks_)["rec"]
    expected = {k: v.clone() for k, v in rec.start_.items()}
    for step in rec.steps_:
        for k in expected:
            expected[k] = 0.8 * expected[k] + 0.2 * step[k]
    for k, v in net.module_.state_dict().items():
        torch.testing.assert_close(v, expected[k], rtol=1e-5, atol=1e-6)
    assert len(rec.steps_) == 4 * 7  # 400 rows in batches of 64, 4 epochs


def test_swa_weights_are_the_mean_after_swa_start(digits):
    X, y = digits
    net = _net([("rec", _Recorder()), ("swa", SWA(swa_start=1))], max_epochs=5).fit(X, y)
    rec, swa = dict(net.callbacks_)["rec"], dict(net.callbacks_)["swa"]
    assert swa.n_averaged_ == 4
    for k, v in net.module_.state_dict().items():
        expected = torch.stack([epoch[k] for epoch in rec.epochs_[1:]]).mean(0)
        torch.testing.assert_close(v, expected, rtol=1e-5, atol=1e-6)


def test_swa_recomputes_batch_norm_statistics(digits):
    X, y = digits
    net = _net([("swa", SWA(swa_start=2))], module__batch_norm=True, batch_size=-1, max_epochs=6)
    net.fit(X, y)
    linear, norm = net.module_.layers[0], net.module_.layers[1]
    with torch.no_grad():
        pre = linear(torch.as_tensor(X, dtype=torch.float32))
    torch.testing.assert_close(norm.running_mean, pre.mean(0), rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(norm.running_var, pre.var(0, unbiased=True), rtol=1e-4, atol=1e-5)


def test_swa_learning_rate_and_a_late_start(digits):
    X, y = digits
    net = _net([("swa", SWA(swa_start=1, swa_lr=0.05, anneal_epochs=2))], max_epochs=5).fit(X, y)
    assert net.optimizer_.param_groups[0]["lr"] == pytest.approx(0.05)
    with pytest.warns(UserWarning, match=r"SWA averaged no weights: .* after 4 epochs"):
        late = _net([("swa", SWA(swa_start=10))]).fit(X, y)
    assert dict(late.callbacks_)["swa"].n_averaged_ == 0
    np.testing.assert_array_equal(late.predict_proba(X), _net(None).fit(X, y).predict_proba(X))


def test_callbacks_are_searchable_clonable_and_pickle(digits):
    X, y = digits
    net = _net([("swa", SWA(swa_start=2)), ("ema", EMA(decay=0.9))])
    grid = {"callbacks__swa__swa_start": [1, 2], "callbacks__ema__decay": [0.0, 0.9]}
    search = GridSearchCV(net, grid, cv=2).fit(X, y)
    assert set(search.best_params_) == set(grid)
    fitted = clone(net).set_params(callbacks__ema__decay=0.5).fit(X, y)
    assert dict(fitted.callbacks_)["ema"].decay == 0.5
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_bad_arguments(digits):
    X, y = digits
    with pytest.raises(ValueError, match="EMA decay must be in \\[0, 1\\)"):
        _net([("ema", EMA(decay=1.0))]).fit(X, y)
    with pytest.raises(ValueError, match="swa_start must be >= 0"):
        _net([("swa", SWA(swa_start=-1))]).fit(X, y)


# ---------------------------------------------------------------- model soups
@pytest.fixture(scope="module")
def fine_tuned(digits):
    """Nets fine-tuned from one start with different seeds and learning rates."""
    import copy

    X, y = digits
    base = _net(None, max_epochs=5).fit(X[:300], y[:300])
    tuned = []
    for seed, lr in [(1, 1e-2), (2, 3e-3), (3, 3e-2)]:
        net = copy.deepcopy(base).set_params(warm_start=True, random_state=seed, lr=lr)
        tuned.append(net.fit(X[:300], y[:300]))
    return tuned


def test_uniform_soup_is_the_parameter_average(fine_tuned):
    soup = model_soup(fine_tuned, None, None)
    assert soup.soup_ingredients_ == [0, 1, 2]
    for k, v in soup.module_.state_dict().items():
        expected = torch.stack([n.module_.state_dict()[k] for n in fine_tuned]).mean(0)
        torch.testing.assert_close(v, expected)
    assert all(soup is not n for n in fine_tuned)


def test_greedy_soup_is_never_worse_than_the_best_ingredient(fine_tuned, digits):
    X, y = digits
    X_val, y_val = X[300:], y[300:]
    scores = [n.score(X_val, y_val) for n in fine_tuned]
    soup = model_soup(fine_tuned, X_val, y_val, method="greedy")
    assert soup.soup_ingredients_[0] == int(np.argmax(scores))
    assert soup.score(X_val, y_val) >= max(scores)
    same = model_soup([fine_tuned[0], fine_tuned[0]], X_val, y_val)
    np.testing.assert_allclose(
        same.predict_proba(X_val), fine_tuned[0].predict_proba(X_val), atol=1e-6
    )


def test_soup_errors(fine_tuned, digits):
    X, y = digits
    other = _net(None, module__hidden_units=(5,), max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="different architecture"):
        model_soup([fine_tuned[0], other], X, y)
    with pytest.raises(ValueError, match="method must be"):
        model_soup(fine_tuned, X, y, method="best")
    with pytest.raises(ValueError, match="estimators is empty"):
        model_soup([], X, y)
    with pytest.raises(ValueError, match="not fitted"):
        model_soup([_net(None)], X, y)


def test_a_soup_of_independently_initialised_nets_warns(digits):
    X, y = digits
    X_val, y_val = X[300:], y[300:]
    nets = [
        _net(None, random_state=seed, max_epochs=10, module__hidden_units=(32,)).fit(
            X[:300], y[:300]
        )
        for seed in range(3)
    ]
    with pytest.warns(UserWarning, match="below every one of its nets"):
        soup = model_soup(nets, X_val, y_val)
    assert soup.score(X_val, y_val) < min(n.score(X_val, y_val) for n in nets)
    model_soup(nets, X_val, y_val, method="greedy")  # never worse than the best: no warning


def test_a_soup_of_pipelines_says_to_pass_the_net_steps(fine_tuned, digits):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = digits
    pipelines = [make_pipeline(StandardScaler(), n) for n in fine_tuned]
    with pytest.raises(TypeError, match=r"estimators\[0\] is a Pipeline.*pipeline\[-1\]"):
        model_soup(pipelines, X, y)
    with pytest.raises(TypeError, match="a list of fitted nets, got one Pipeline"):
        model_soup(pipelines[0], X, y)
    with pytest.raises(ValueError, match="method='greedy' picks nets by their score on X_val"):
        model_soup(fine_tuned, None, None, method="greedy")
