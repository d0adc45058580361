"""NeuralNetClassifier / NeuralNetRegressor: the contract of issue 2, one behaviour a test."""

import pickle
import re
import subprocess
import sys

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.ensemble import AdaBoostClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import has_fit_parameter

from ensemblekit.engine import MemberPlan
from ensemblekit.nets import MLP, NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _fit_proba(params, X, y, **fit_kw):
    """Module-level so a loky worker can run it."""
    return NeuralNetClassifier(**params).fit(X, y, **fit_kw).predict_proba(X)


# ---------------------------------------------------------------- defaults and shapes
def test_default_constructed_nets_learn(digits, regression):
    X, y = digits
    net = NeuralNetClassifier(random_state=0).fit(X, y)
    assert net.module_.layers[0].in_features == 64
    assert net.module_.layers[-1].out_features == 10
    assert net.score(X, y) > 0.95
    Xr, yr = regression
    reg = NeuralNetRegressor(random_state=0, lr=1e-2).fit(Xr, yr)
    assert reg.score(Xr, yr) > 0.9


def test_input_width_follows_the_data_so_subspaces_work(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0)
    for cols in ([0, 5, 9], list(range(20))):
        fitted = clone(net).fit(X[:, cols], y)
        assert fitted.module_.layers[0].in_features == len(cols)


def test_module_parameters_reach_the_mlp(digits):
    X, y = digits
    net = NeuralNetClassifier(
        module__hidden_units=(12, 7),
        module__activation="tanh",
        module__dropout=0.1,
        module__batch_norm=True,
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    kinds = [type(layer).__name__ for layer in net.module_.layers]
    assert kinds == [
        "Linear", "BatchNorm1d", "Tanh", "_SeededDropout",
        "Linear", "BatchNorm1d", "Tanh", "_SeededDropout",
        "Linear",
    ]  # fmt: skip
    assert net.module_.layers[4].out_features == 7


def test_no_hidden_validation_split(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    for epoch in net.history:
        assert sum(b["train_batch_size"] for b in epoch["batches"]) == len(X)
        assert "valid_loss" not in epoch


# ---------------------------------------------------------------- random_state
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_same_seed_bit_identical_whatever_ran_before(digits, tiny_net_params, dropout):
    X, y = digits
    params = {**tiny_net_params, "module__dropout": dropout, "random_state": 7}
    first = _fit_proba(params, X, y)
    np.random.rand(3)  # noqa: NPY002  (the legacy global stream is the point here)
    torch.rand(5)
    torch.manual_seed(123)
    again = _fit_proba(params, X, y)
    np.testing.assert_array_equal(first, again)
    other = _fit_proba({**params, "random_state": 8}, X, y)
    assert not np.array_equal(first, other)


def test_same_seed_bit_identical_in_a_joblib_worker(digits, tiny_net_params):
    X, y = digits
    params = {**tiny_net_params, "module__dropout": 0.2, "random_state": 3}
    here = _fit_proba(params, X, y)
    there = joblib.Parallel(n_jobs=2, backend="loky")(
        joblib.delayed(_fit_proba)(params, X, y) for _ in range(2)
    )
    for proba in there:
        np.testing.assert_array_equal(here, proba)


def test_fit_leaves_the_callers_torch_rng_alone(digits, tiny_net_params):
    X, y = digits
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_random_state_instance_and_none_vary_between_fits(digits, tiny_net_params):
    X, y = digits
    rng = np.random.RandomState(0)
    net = NeuralNetClassifier(**tiny_net_params, random_state=rng)
    a = clone(net).set_params(random_state=rng).fit(X, y).predict_proba(X)
    b = clone(net).set_params(random_state=rng).fit(X, y).predict_proba(X)
    assert not np.array_equal(a, b)
    c = NeuralNetClassifier(**tiny_net_params).fit(X, y).predict_proba(X)
    d = NeuralNetClassifier(**tiny_net_params).fit(X, y).predict_proba(X)
    assert not np.array_equal(c, d)


def test_custom_module_on_global_rng_is_seeded(digits, tiny_net_params):
    """A user's module with nn.Dropout and default init is reproducible too (in a process)."""

    class Plain(torch.nn.Module):
        def __init__(self, n_features, n_outputs):
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(n_features, 16),
                torch.nn.Dropout(0.3),
                torch.nn.Linear(16, n_outputs),
            )

        def forward(self, X):
            return self.net(X)

    X, y = digits
    params = {k: v for k, v in tiny_net_params.items() if not k.startswith("module__")}
    a = NeuralNetClassifier(Plain, **params, random_state=0).fit(X, y).predict_proba(X)
    torch.rand(10)
    b = NeuralNetClassifier(Plain, **params, random_state=0).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- sample_weight and class_weight
def test_sample_weight_is_a_fit_parameter_and_adaboost_accepts_the_net(binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(**tiny_net_params, random_state=0)
    assert has_fit_parameter(net, "sample_weight")
    assert has_fit_parameter(NeuralNetRegressor(), "sample_weight")
    boost = AdaBoostClassifier(net, n_estimators=3, random_state=0).fit(X, y)
    assert len(boost.estimators_) >= 1
    assert boost.score(X, y) > 0.8


def test_all_ones_weights_train_exactly_as_no_weights(digits, tiny_net_params):
    X, y = digits
    params = {**tiny_net_params, "random_state": 0}
    plain = _fit_proba(params, X, y)
    ones = _fit_proba(params, X, y, sample_weight=np.ones(len(y)))
    scaled = _fit_proba(params, X, y, sample_weight=np.full(len(y), 3.0))
    np.testing.assert_array_equal(plain, ones)
    np.testing.assert_allclose(plain, scaled, atol=1e-6)


def test_weighted_loss_matches_hand_computation():
    """Batch loss = mean_i(w_i * CE_i) with weights rescaled to mean 1 over the training rows."""
    net = NeuralNetClassifier(max_epochs=1, random_state=0)
    X = np.zeros((4, 2))
    y = np.array([0, 1, 1, 0])
    w = np.array([1.0, 2.0, 3.0, 2.0])
    net.fit(X, y, sample_weight=w)
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5]])
    ce = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none")
    normalised = torch.tensor(w / w.mean(), dtype=torch.float32)
    expected = (ce * normalised).mean()
    got = net.get_loss(logits, torch.tensor(y), weight=normalised)
    torch.testing.assert_close(got, expected)
    # The weights stored for training are exactly those normalised weights.
    np.testing.assert_allclose(net._prepare_weights(y, w), w / w.mean(), rtol=1e-6)


def test_zero_weight_rows_do_not_move_the_fit(binary, tiny_net_params):
    """Rows with weight 0 contribute nothing: flipping their labels changes nothing."""
    X, y = binary
    w = np.ones(len(y))
    w[:50] = 0.0
    y_flipped = y.copy()
    y_flipped[:50] = 1 - y_flipped[:50]
    params = {**tiny_net_params, "random_state": 0}
    a = _fit_proba(params, X, y, sample_weight=w)
    b = _fit_proba(params, X, y_flipped, sample_weight=w)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_class_weight_balanced_equals_balanced_sample_weight(binary, tiny_net_params):
    X, y = binary
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:30]]
    X, y = X[keep], y[keep]
    params = {**tiny_net_params, "random_state": 0}
    by_class = _fit_proba({**params, "class_weight": "balanced"}, X, y)
    by_rows = _fit_proba(params, X, y, sample_weight=compute_sample_weight("balanced", y))
    np.testing.assert_allclose(by_class, by_rows, atol=1e-6)
    plain = _fit_proba(params, X, y)
    # Up-weighting the minority raises its predicted probability on average.
    assert by_class[:, 1].mean() > plain[:, 1].mean()


def test_class_weight_dict_with_string_labels(binary, tiny_net_params):
    X, y = binary
    labels = np.where(y == 1, "spam", "ham")
    params = {**tiny_net_params, "random_state": 0}
    a = _fit_proba({**params, "class_weight": {"spam": 2.0}}, X, labels)
    b = _fit_proba(params, X, labels, sample_weight=np.where(y == 1, 2.0, 1.0))
    np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="class_weight has classes"):
        NeuralNetClassifier(class_weight={"eggs": 2.0}).fit(X, labels)


# ---------------------------------------------------------------- early stopping
def test_early_stopping_is_opt_in_and_restores_the_best_weights(digits):
    X, y = digits
    net = NeuralNetClassifier(
        module__hidden_units=(64,),
        lr=3e-2,
        max_epochs=200,
        early_stopping=True,
        n_iter_no_change=3,
        random_state=0,
    ).fit(X, y)
    valid_losses = net.history[:, "valid_loss"]
    assert len(valid_losses) < 200
    best = int(np.argmin(valid_losses))
    assert len(valid_losses) == best + 1 + 3  # stopped after `patience` epochs without progress
    # Held-out rows: 10%, stratified, never trained on.
    batches = net.history[0, "batches"]
    assert sum(b["train_batch_size"] for b in batches if "train_batch_size" in b) == 360
    # The restored weights are the best epoch's: their validation loss is the minimum.
    split = net.get_split_datasets(net.get_dataset(X.astype(np.float32), y))[1]
    with torch.no_grad():
        logits = net.module_(split.X)
        loss = torch.nn.functional.cross_entropy(logits, split.y).item()
    assert loss == pytest.approx(min(valid_losses), rel=1e-5)


def test_validation_fraction_is_checked(digits):
    X, y = digits
    with pytest.raises(ValueError, match="validation_fraction"):
        NeuralNetClassifier(early_stopping=True, validation_fraction=1.5).fit(X, y)


# ---------------------------------------------------------------- inputs and outputs
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_numeric_dtypes(digits, tiny_net_params, dtype):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit((X * 16).astype(dtype), y)
    proba = net.predict_proba((X * 16).astype(dtype))
    assert proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_read_only_arrays_as_joblib_memmaps_them(digits, tiny_net_params):
    X, y = digits
    frozen_X, frozen_y = X.astype(np.float32), y.copy()
    frozen_X.setflags(write=False)
    frozen_y.setflags(write=False)
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(frozen_X, frozen_y)
    assert net.predict(frozen_X).shape == (len(X),)


def test_dataframe_sets_feature_names(binary, tiny_net_params):
    X, y = binary
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(frame, y)
    np.testing.assert_array_equal(net.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="fitted with feature names"):
        np.testing.assert_array_equal(net.predict(frame), net.predict(X.copy()))


def test_string_labels_round_trip(binary, tiny_net_params):
    X, y = binary
    labels = np.array(["no", "yes"])[y]
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, labels)
    np.testing.assert_array_equal(net.classes_, ["no", "yes"])
    assert set(net.predict(X)) <= {"no", "yes"}


def test_regression_targets_keep_their_shape(regression, tiny_net_params):
    X, y = regression
    one = NeuralNetRegressor(**tiny_net_params, random_state=0).fit(X, y)
    assert one.predict(X).shape == (len(X),)
    assert one.predict(X).dtype == np.float64
    two = NeuralNetRegressor(**tiny_net_params, random_state=0).fit(X, np.c_[y, -y])
    assert two.predict(X).shape == (len(X), 2)
    assert two.module_.layers[-1].out_features == 2


# ---------------------------------------------------------------- errors
def test_errors_name_the_argument(binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(**tiny_net_params, random_state=0)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        clone(net).fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        clone(net).fit(X_inf, y)
    with pytest.raises(ValueError, match="sample_weight has shape"):
        clone(net).fit(X, y, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match="sample_weight has negative"):
        clone(net).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="at least 2 classes in y"):
        clone(net).fit(X, np.zeros(len(y)))
    fitted = clone(net).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features"):
        fitted.predict(X[:, :3])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.predict(X_nan)
    with pytest.raises(ValueError, match="Invalid parameter 'hidden_units'"):
        clone(net).set_params(hidden_units=(3,))


def test_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Unknown activation"):
        MLP(3, 2, activation="swishy")
    with pytest.raises(ValueError, match="dropout"):
        MLP(3, 2, dropout=1.0)
    with pytest.raises(ValueError, match="hidden_units"):
        MLP(3, 2, hidden_units=(4, 0))


# ---------------------------------------------------------------- sklearn machinery
def test_nested_params_grid_search_in_a_pipeline(digits):
    X, y = digits
    pipe = Pipeline(
        [("scale", StandardScaler()), ("net", NeuralNetClassifier(max_epochs=3, random_state=0))]
    )
    assert "net__module" in pipe.get_params()
    search = GridSearchCV(
        pipe,
        {"net__module__hidden_units": [(8,), (32,)], "net__lr": [1e-3, 1e-2]},
        cv=2,
    ).fit(X, y)
    best = search.best_estimator_.named_steps["net"]
    hidden = search.best_params_["net__module__hidden_units"]
    assert best.module_.layers[0].out_features == hidden[0]
    assert best.get_params()["module__hidden_units"] == hidden


def test_clone_and_pickle_fitted_nets(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, module__dropout=0.2, random_state=0).fit(X, y)
    restored = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(restored.predict_proba(X), net.predict_proba(X))
    copy = clone(net)
    assert not hasattr(copy, "module_")
    assert copy.get_params()["module__dropout"] == 0.2
    np.testing.assert_array_equal(copy.fit(X, y).predict_proba(X), net.predict_proba(X))


def test_set_params_on_a_fitted_net_reinitialises_the_module(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    net.set_params(module__hidden_units=(5,)).fit(X, y)
    assert net.module_.layers[0].out_features == 5


def test_get_params_lists_the_default_module_parameters_as_a_search_takes_them(digits):
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    net = NeuralNetClassifier()
    deep = net.get_params()
    assert {k: v for k, v in deep.items() if k.startswith("module__")} == {
        "module__hidden_units": (100,),
        "module__activation": "relu",
        "module__dropout": 0.0,
        "module__batch_norm": False,
        "module__depth": None,
    }  # n_features, n_outputs and random_state come from the fit
    assert "module__hidden_units" not in net.get_params(deep=False)  # clone: as given
    assert NeuralNetClassifier(module__dropout=0.3).get_params()["module__dropout"] == 0.3
    pipe = make_pipeline(StandardScaler(), NeuralNetRegressor(max_epochs=2))
    assert pipe.get_params()["neuralnetregressor__module__batch_norm"] is False
    # A module instance is used as it is: it has no parameters to list.
    instance = NeuralNetClassifier(module=torch.nn.Linear(4, 3))
    assert not [k for k in instance.get_params() if k.startswith("module__")]
    X, y = digits
    grid = {"module__hidden_units": [(4,), (6,)]}
    search = GridSearchCV(NeuralNetClassifier(max_epochs=1, lr=1e-2), grid, cv=2).fit(X, y)
    assert search.best_estimator_.module_.layers[0].out_features in (4, 6)
    copy = clone(net).get_params()
    assert {k: copy[k] for k in deep if k.startswith("module__")} == {
        k: v for k, v in deep.items() if k.startswith("module__")
    }


@pytest.mark.parametrize(
    ("typo", "meant"),
    [({"max_epoch": 3}, "max_epochs=3"), ({"learning_rate": 0.01}, "lr=0.01"),
     ({"hidden_units": (8,)}, "module__hidden_units=(8,)"), ({"dropout": 0.1}, "module__dropout"),
     ({"hidden_layer_sizes": (8,)}, "module__hidden_units"), ({"epochs": 2}, "max_epochs=2"),
     ({"weight_decay": 1e-4}, "optimizer__weight_decay"), ({"lrr": 0.1}, "lr=0.1")],
)  # fmt: skip
@pytest.mark.parametrize("make", [NeuralNetClassifier, NeuralNetRegressor])
def test_a_misspelt_constructor_argument_names_the_one_meant(make, typo, meant, binary):
    X, y = binary
    with pytest.raises(ValueError, match=rf"has no parameter '{next(iter(typo))}'; did you mean "):
        make(**typo).fit(X, y)
    with pytest.raises(ValueError, match=re.escape(meant)):
        make(**typo).fit(X, y)
    with pytest.raises(ValueError, match=r"has no parameter 'zzz'\. Its parameters"):
        make(zzz=1).fit(X, y)


def test_dataloader_path_equals_the_tensor_path(digits, tiny_net_params):
    X, y = digits
    params = {**tiny_net_params, "module__dropout": 0.2, "random_state": 0}
    fast = _fit_proba(params, X, y)
    loader = _fit_proba({**params, "iterator_train": torch.utils.data.DataLoader}, X, y)
    np.testing.assert_allclose(fast, loader, rtol=0, atol=1e-6)


def test_partial_fit_and_warm_start_continue_training(digits, tiny_net_params):
    X, y = digits
    params = {**tiny_net_params, "max_epochs": 2, "random_state": 0}
    net = NeuralNetClassifier(**params).partial_fit(X[:50], y[:50], classes=np.unique(y))
    net.partial_fit(X, y)
    assert len(net.history) == 4
    warm = NeuralNetClassifier(**params, warm_start=True).fit(X, y).fit(X, y)
    assert len(warm.history) == 4
    cold = NeuralNetClassifier(**params).fit(X, y).fit(X, y)
    assert len(cold.history) == 2


def test_verbose_prints_the_epoch_table(digits, tiny_net_params, capsys):
    X, y = digits
    NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""
    NeuralNetClassifier(**tiny_net_params, random_state=0, verbose=1).fit(X, y)
    assert "train_loss" in capsys.readouterr().out


def test_cpu_device_object_and_predictions_on_cpu(digits, tiny_net_params):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, device=torch.device("cpu"), random_state=0)
    proba = net.fit(X, y).predict_proba(X)
    assert isinstance(proba, np.ndarray)


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a machine without a GPU")
def test_net_saved_for_cuda_unpickles_on_a_cpu_only_machine(digits, tiny_net_params):
    """The CPU half of the GPU round trip, run in CI: a net that says device="cuda" loads."""
    from skorch.exceptions import DeviceWarning

    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, random_state=0).fit(X, y)
    expected = net.predict_proba(X)
    net.device = "cuda"  # what a net trained on a GPU carries into its pickle
    with pytest.warns(DeviceWarning, match="(?i)cuda"):  # skorch warns twice
        restored = pickle.loads(pickle.dumps(net))
    assert str(restored.device) == "cpu"
    np.testing.assert_array_equal(restored.predict_proba(X), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU; run by the device check")
def test_cuda_net_unpickles_on_a_cpu_only_process(digits, tiny_net_params, tmp_path):
    X, y = digits
    net = NeuralNetClassifier(**tiny_net_params, device="cuda", random_state=0).fit(X, y)
    assert next(net.module_.parameters()).is_cuda
    path = tmp_path / "net.pkl"
    path.write_bytes(pickle.dumps(net))
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "p.npy", net.predict_proba(X))
    code = (
        "import pickle, numpy as np, torch; "
        f"net = pickle.loads(open({str(path)!r}, 'rb').read()); "
        f"p = net.predict_proba(np.load({str(tmp_path / 'X.npy')!r})); "
        f"np.testing.assert_allclose(p, np.load({str(tmp_path / 'p.npy')!r}), atol=1e-5); "
        "assert not next(net.module_.parameters()).is_cuda; print('ok')"
    )
    env = {"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip().endswith("ok"), out.stderr


def test_early_stopping_monitors_the_validation_rows_given_to_fit(digits):
    X, y = digits
    net = NeuralNetClassifier(
        max_epochs=60, lr=1e-2, early_stopping=True, n_iter_no_change=2, random_state=0
    )
    net.fit(X[:300], y[:300], X_val=X[300:], y_val=y[300:])
    assert sum(net.history[-1, "batches", :, "valid_batch_size"]) == 100
    assert sum(net.history[-1, "batches", :, "train_batch_size"]) == 300
    assert len(net.history) < 60
    with pytest.raises(ValueError, match="only used for early stopping; set early_stopping"):
        NeuralNetClassifier(max_epochs=1).fit(X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="Pass both X_val and y_val"):
        net.fit(X, y, X_val=X)
    with pytest.raises(ValueError, match="X_val has 10 rows but y_val has 9"):
        net.fit(X, y, X_val=X[:10], y_val=y[:9])
    with pytest.raises(ValueError, match="X has 3 features"):
        net.fit(X, y, X_val=X[:, :3], y_val=y)


@pytest.mark.parametrize("precision", ["bf16-mixed", "16-mixed"])
def test_mixed_precision_runs_the_forward_pass_in_low_precision(precision, digits):
    """Autocast covers training and prediction; weights stay float32; predictions come back
    in float; 16-mixed scales the loss with a GradScaler; accuracy stays near 32-true's."""
    X, y = digits
    seen = []
    net = NeuralNetClassifier(precision=precision, max_epochs=15, random_state=0).fit(X, y)
    full = NeuralNetClassifier(max_epochs=15, random_state=0).fit(X, y)
    assert abs(net.score(X, y) - full.score(X, y)) <= 0.02
    net.module_.register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    net.partial_fit(X[:64], y[:64])  # training steps, then a prediction
    net.predict(X[:5])
    low = torch.bfloat16 if precision == "bf16-mixed" else torch.float16
    assert seen and all(dtype == low for dtype in seen)
    assert all(p.dtype == torch.float32 for p in net.module_.parameters())
    assert (net.grad_scaler_ is not None) == (precision == "16-mixed")
    assert net.predict_proba(X).dtype == np.float64
    if precision == "16-mixed":
        assert "16-mixed" in net.stacking_blocker(X, y, [MemberPlan(0)])
    else:
        assert net.stacking_blocker(X, y, [MemberPlan(0)]) is None
    with pytest.raises(ValueError, match="'precision' parameter"):
        NeuralNetClassifier(precision="bf16").fit(X, y)


def test_outputs_that_overflow_float16_blame_the_inputs_not_the_weights(digits):
    X, y = digits
    net = NeuralNetClassifier(precision="16-mixed", max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="exceed float16's range") as error:
        net.predict_proba(X[:20] * 1e6)
    assert "weights hold NaN" not in str(error.value)
    assert np.isfinite(net.set_params(precision="32-true").predict_proba(X[:20] * 1e6)).all()
    with torch.no_grad():
        net.module_.parameters().__next__()[0, 0] = float("nan")
    with pytest.raises(ValueError, match="its weights hold NaN or inf"):
        net.predict_proba(X[:20])
