"""Gaussian mean-variance nets and the deep-ensemble mixture (Lakshminarayanan et al. 2017)."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_friedman1

from ensemblekit.ensemble import DeepEnsembleRegressor
from ensemblekit.metrics import gaussian_nll
from ensemblekit.model_selection import predictive_uncertainty
from ensemblekit.nets import GaussianNLLLoss, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

NET = {"criterion": GaussianNLLLoss, "max_epochs": 6, "lr": 3e-3, "module__hidden_units": (16,)}


@pytest.fixture(scope="module")
def noisy():
    X, y = make_friedman1(n_samples=300, noise=1.0, random_state=0)
    return X, (y - y.mean()) / y.std()


def test_the_loss_is_the_gaussian_nll_metric_and_torchs():
    rng = np.random.default_rng(0)
    output = torch.tensor(rng.normal(size=(20, 4)))  # 2 targets: means, then raw spreads
    target = torch.tensor(rng.normal(size=(20, 2)))
    criterion = GaussianNLLLoss(reduction="none")
    mean, std = criterion.split(output)
    ours = criterion(output, target)
    assert ours.shape == (20,)
    expected = gaussian_nll(target.numpy(), mean.numpy(), std.numpy())
    assert float(ours.mean()) == pytest.approx(expected)
    torchs = torch.nn.GaussianNLLLoss(full=True, eps=0.0)(mean, target, std**2)
    assert float(GaussianNLLLoss()(output, target)) == pytest.approx(float(torchs))
    assert bool((std >= 1e-3).all())
    with pytest.raises(ValueError, match="min_std must be positive"):
        GaussianNLLLoss(min_std=0)


def test_a_gaussian_net_predicts_means_and_spreads_shaped_like_y(noisy):
    X, y = noisy
    net = NeuralNetRegressor(**NET, random_state=0).fit(X, y)
    assert net.module_.layers[-1].out_features == 2  # a mean and a spread per target
    mean, std = net.predict(X, return_std=True)
    assert mean.shape == std.shape == (300,) and (std > 0).all()
    np.testing.assert_array_equal(net.predict(X), mean)
    two = NeuralNetRegressor(**NET, random_state=0).fit(X, np.column_stack([y, -y]))
    mean, std = two.predict(X, return_std=True)
    assert mean.shape == std.shape == (300, 2) and two.module_.layers[-1].out_features == 4
    with pytest.raises(ValueError, match="criterion=GaussianNLLLoss"):
        NeuralNetRegressor(max_epochs=1).fit(X, y).predict(X, return_std=True)


def test_the_deep_ensemble_returns_the_mixture(noisy):
    X, y = noisy
    ensemble = DeepEnsembleRegressor(
        NeuralNetRegressor(**NET), n_estimators=3, random_state=0, engine="joblib"
    ).fit(X, y)
    mu, sigma = ensemble.predict(X, return_std=True)
    pairs = [member.predict(X, return_std=True) for member in ensemble]
    means, stds = np.array([m for m, _ in pairs]), np.array([s for _, s in pairs])
    np.testing.assert_allclose(mu, means.mean(axis=0))
    by_paper = (stds**2 + means**2).mean(axis=0) - mu**2  # Lakshminarayanan et al.'s form
    np.testing.assert_allclose(sigma**2, by_paper, rtol=1e-6, atol=1e-9)
    u = predictive_uncertainty(ensemble, X)
    np.testing.assert_allclose(u.total, sigma**2, rtol=1e-9)
    np.testing.assert_allclose(u.aleatoric, (stds**2).mean(axis=0))
    np.testing.assert_allclose(u.epistemic, means.var(axis=0))
    assert (sigma > means.std(axis=0)).all()  # the noise counts too


def test_gaussian_members_train_stacked_as_they_train_alone(noisy):
    X, y = noisy
    fits = {
        engine: DeepEnsembleRegressor(
            NeuralNetRegressor(**NET), n_estimators=3, random_state=0, engine=engine
        ).fit(X, y)
        for engine in ("vectorized", "joblib")
    }
    stacked, alone = (fits[e].predict(X, return_std=True) for e in ("vectorized", "joblib"))
    np.testing.assert_allclose(stacked[0], alone[0], atol=1e-4)
    np.testing.assert_allclose(stacked[1], alone[1], atol=1e-4)
