"""Faults played so that none can come back: bad settings, divergence, float32 overflow.

Each would otherwise give a wrong number with no error: an untrained "fitted" net, NaN
predictions scored as a class, inputs turned into inf by the cast to float32.
"""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _learners import TreeClassifier, TreeRegressor
from sklearn.base import BaseEstimator, RegressorMixin, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.tree import DecisionTreeClassifier

from ensemblekit.ensemble import (
    AdaBoostClassifier,
    AdaBoostRegressor,
    BaggingClassifier,
    BaggingRegressor,
    CVEnsembleClassifier,
    CVEnsembleRegressor,
    DeepEnsembleClassifier,
    DeepEnsembleRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
)
from ensemblekit.nets import NeuralNetClassifier, NeuralNetRegressor

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


# ---------------------------------------------------------------- the nets' settings
@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"max_epochs": 0}, r"'max_epochs' parameter .* int in the range \[1, inf\)"),
        (
            {"batch_size": -5},
            r"'batch_size' parameter .* range \[1, inf\), a int among \{-1\} or a str "
            r"among \{'auto'\}",
        ),
        ({"batch_size": 0}, r"'batch_size' parameter"),
        ({"lr": 0.0}, r"'lr' parameter .* range \(0.0, inf\)"),
        ({"n_threads": 0}, r"'n_threads' parameter"),
        ({"validation_fraction": 1.0}, r"'validation_fraction' parameter .* \(0.0, 1.0\)"),
        ({"n_iter_no_change": 0}, r"'n_iter_no_change' parameter"),
        ({"tol": -1e-3}, r"'tol' parameter"),
        ({"early_stopping": "yes"}, r"'early_stopping' parameter"),
        ({"predict_nonlinearity": "softmax"}, r"'predict_nonlinearity' parameter"),
        ({"class_weight": "inverse"}, r"'class_weight' parameter"),
        ({"class_weight_beta": 1.0}, r"'class_weight_beta' parameter .* \[0.0, 1.0\)"),
        ({"batch_sampler": "stratified"}, r"'batch_sampler' parameter"),
        ({"device": "gpu"}, r"device='gpu' is not a torch device.*Use 'cpu' or 'cuda'"),
    ],
)
def test_every_setting_is_checked_before_any_work(setting, message, binary):
    X, y = binary
    net = NeuralNetClassifier(**setting)
    with pytest.raises(ValueError, match=message):
        net.fit(X, y)
    assert not hasattr(net, "module_")  # nothing was built


def test_cuda_without_cuda_names_the_fix(binary, monkeypatch):
    X, y = binary
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=r"torch finds no CUDA device.*use device='cpu'"):
        NeuralNetRegressor(device="cuda").fit(X, y.astype(float))
    # Members are checked before any member trains, stacked or not.
    for engine in ("auto", "joblib"):
        bag = BaggingClassifier(NeuralNetClassifier(device="cuda:0"), engine=engine)
        with pytest.raises(ValueError, match="no CUDA device"):
            bag.fit(X, y)


# ---------------------------------------------------------------- divergence
def _diverging(**params):
    return NeuralNetClassifier(
        optimizer=torch.optim.SGD, lr=1e3, max_epochs=20, random_state=0, **params
    )


def test_a_diverging_net_stops_with_the_fix(binary):
    X, y = binary
    X = X * 100.0
    with pytest.raises(FloatingPointError, match=r"became (nan|inf) in epoch \d+.*Lower lr"):
        _diverging().fit(X, y)


@pytest.mark.parametrize("engine", ["joblib", "vectorized"])
def test_a_diverging_member_stops_the_ensemble(engine, binary):
    X, y = binary
    bag = BaggingClassifier(_diverging(), n_estimators=3, engine=engine, random_state=0)
    with pytest.raises(FloatingPointError, match="the fit diverged"):
        bag.fit(X * 100.0, y)


def test_predictions_are_never_nan_without_an_error(binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(random_state=0, **tiny_net_params).fit(X, y)
    deep = DeepEnsembleRegressor(
        NeuralNetRegressor(**tiny_net_params), n_estimators=2, random_state=0
    ).fit(X, y.astype(float))
    with torch.no_grad():
        next(net.module_.parameters()).fill_(float("nan"))
        next(deep[1].module_.parameters()).fill_(float("nan"))
    for predict in (net.predict, net.predict_proba, net.predict_log_proba, deep.predict):
        with pytest.raises(ValueError, match="outputs are not finite: its weights hold NaN"):
            predict(X)


# ---------------------------------------------------------------- float32 overflow
def test_values_beyond_float32_are_refused_at_validation(binary, tiny_net_params):
    X, y = binary
    huge = X.copy()
    huge[3, 1] = 1e39  # finite in float64, inf in float32
    net = NeuralNetClassifier(**tiny_net_params)
    with pytest.raises(ValueError, match=r"X has values beyond float32's range.*StandardScaler"):
        net.fit(huge, y)
    fitted = net.fit(X, y)
    with pytest.raises(ValueError, match="X has values beyond float32's range"):
        fitted.predict(huge)
    targets = y.astype(float)
    targets[0] = -1e40
    with pytest.raises(ValueError, match="y has values beyond float32's range"):
        NeuralNetRegressor(**tiny_net_params).fit(X, targets)
    bag = BaggingClassifier(NeuralNetClassifier(**tiny_net_params), n_estimators=2)
    with pytest.raises(ValueError, match="X has values beyond float32's range"):
        bag.fit(huge, y)
    with pytest.raises(ValueError, match="X has values beyond float32's range"):
        bag.fit(X, y).predict(huge)
    assert np.isfinite(bag.predict_proba(X)).all()


# ---------------------------------------------------------------- fits are all or nothing
def _faulty_estimators():
    c, r = TreeClassifier(fail_on=999), TreeRegressor(fail_on=999)
    return [
        BaggingClassifier(c, n_estimators=3, random_state=0),
        BaggingRegressor(r, n_estimators=3, random_state=0),
        BaggingClassifier(c, n_estimators=3, warm_start=True, random_state=0),
        DeepEnsembleClassifier(c, n_estimators=2, random_state=0),
        DeepEnsembleRegressor(r, n_estimators=2, random_state=0),
        CVEnsembleClassifier(c, cv=3, refit=True),
        CVEnsembleRegressor(r, cv=3),
        AdaBoostClassifier(c, n_estimators=3, random_state=0),
        AdaBoostRegressor(r, n_estimators=3, random_state=0),
        GradientBoostingClassifier(r, n_estimators=3, random_state=0),
        GradientBoostingRegressor(r, n_estimators=3, random_state=0),
    ]


def _fault_data(binary):
    X, y = binary
    bad = X.copy()
    bad[5, 0] = 999  # every member's draw that holds row 5 fails; CV folds and stages too
    return X, y, bad


@pytest.mark.parametrize("index", range(11))
def test_a_failed_fit_leaves_the_estimator_as_it_was(index, binary):
    X, y, bad = _fault_data(binary)
    first = _faulty_estimators()[index]
    target = y if is_classifier(first) else y.astype(float)
    unfitted = dict(vars(first))
    with pytest.raises(ValueError, match="a member failed"):
        first.fit(bad, target)
    assert vars(first) == unfitted
    with pytest.raises(NotFittedError):
        first.predict(X)
    fitted = _faulty_estimators()[index].fit(X, target)
    state, before = dict(vars(fitted)), fitted.predict(X)
    # A refit on other classes (3) whose member fails keeps the 2-class model whole.
    other = np.where(np.arange(len(y)) % 7 == 0, 2, y) if is_classifier(fitted) else target
    if getattr(fitted, "warm_start", False):
        fitted.set_params(n_estimators=5)
        other = target
    with pytest.raises(ValueError, match="a member failed"):
        fitted.fit(bad, other)
    assert vars(fitted).keys() == state.keys()
    assert all(
        vars(fitted)[name] is value for name, value in state.items() if name != "n_estimators"
    )
    np.testing.assert_array_equal(fitted.predict(X), before)


@pytest.mark.parametrize("warm_start", [False, True])
def test_a_net_whose_refit_diverges_keeps_its_fitted_state(warm_start, binary, tiny_net_params):
    X, y = binary
    net = NeuralNetClassifier(
        optimizer=torch.optim.SGD, random_state=0, warm_start=warm_start, **tiny_net_params
    )
    unfitted = NeuralNetClassifier(optimizer=torch.optim.SGD, lr=1e3, max_epochs=5)
    with pytest.raises(FloatingPointError):
        unfitted.fit(X * 100.0, y)
    with pytest.raises(NotFittedError):
        unfitted.predict(X)
    net.fit(X, y)
    proba, epochs = net.predict_proba(X), len(net.history_)
    weights = [p.detach().clone() for p in net.module_.parameters()]
    net.set_params(lr=1e3)
    with pytest.raises(FloatingPointError):
        net.fit(X * 100.0, y)
    np.testing.assert_array_equal(net.predict_proba(X), proba)
    assert len(net.history_) == epochs
    for now, then in zip(net.module_.parameters(), weights, strict=True):
        assert torch.equal(now, then)


def test_a_snapshot_ensemble_whose_refit_diverges_keeps_its_members(binary, tiny_net_params):
    from ensemblekit.ensemble import SnapshotEnsembleClassifier

    X, y = binary
    ens = SnapshotEnsembleClassifier(
        NeuralNetClassifier(**tiny_net_params), n_estimators=2, random_state=0
    ).fit(X, y)
    members, proba = list(ens.estimators_), ens.predict_proba(X)
    ens.set_params(estimator__optimizer=torch.optim.SGD, lr_max=1e4, lr_min=1e3)
    with pytest.raises(FloatingPointError):
        ens.fit(X * 100.0, y)
    assert ens.estimators_ == members
    np.testing.assert_array_equal(ens.predict_proba(X), proba)


# ---------------------------------------------------------------- Ctrl-C stops a fit
_INTERRUPT = """
import os, signal, sys, threading, time
import joblib, numpy as np
from sklearn.datasets import make_classification
from skorch.callbacks import Callback
from ensemblekit.ensemble import BaggingClassifier
from ensemblekit.nets import NeuralNetClassifier

epochs = [0]

class Count(Callback):
    def on_epoch_end(self, net, **kwargs):
        epochs[0] += 1

X, y = make_classification(2000, 20, random_state=0)
net = NeuralNetClassifier(max_epochs=100000, batch_size=16, callbacks=[("count", Count())])
what, backend = sys.argv[1], sys.argv[2]
model = net if what == "net" else BaggingClassifier(
    net, n_estimators=4, n_jobs=1 if backend == "sequential" else 2, engine=what
)
if backend == "dask":  # a cluster whose workers are threads of this process
    from dask.distributed import Client, LocalCluster

    client = Client(LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False,
        dashboard_address="127.0.0.1:0", scheduler_kwargs={"dashboard": False},
    ))
start = time.perf_counter()
threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    with joblib.parallel_config(backend="threading" if backend == "sequential" else backend):
        model.fit(X, y)
except KeyboardInterrupt:
    late = time.perf_counter() - start - 1.5
    seen = epochs[0]
    time.sleep(1.0)
    fitted = hasattr(model, "module_") or hasattr(model, "estimators_")
    print(f"raised {late:.2f} s late; fitted: {fitted}; epochs after: {epochs[0] - seen}")
else:
    print("fit returned")
"""


@pytest.mark.parametrize(
    ("what", "backend"),
    [
        ("net", "sequential"),
        ("joblib", "sequential"),
        ("joblib", "threading"),
        ("vectorized", "threading"),
        ("joblib", "loky"),
        ("joblib", "dask"),
    ],
)
def test_ctrl_c_stops_any_fit_promptly_and_leaves_it_unfitted(what, backend):
    def interrupted():
        return subprocess.run(
            [sys.executable, "-c", _INTERRUPT, what, backend],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    done = interrupted()
    if done.returncode == -signal.SIGINT and not done.stderr and "raised" in done.stdout:
        # Seen once in a full CI run (vectorized-threading, 2 busy cores): the script
        # caught the interrupt and printed its line, then the interpreter ended by SIGINT
        # with nothing on stderr (not reproduced in 52 runs since). Once more, it must
        # exit cleanly; an abort (a thread left inside torch) or a traceback still fails.
        done = interrupted()
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"raised (-?[\d.]+) s late; fitted: False; epochs after: (\d+)", line)
    assert match, line
    # The fit stops, where left alone it would train 100,000 epochs: a bound on behaviour,
    # not on speed (unloaded here: 0.4 s at most on threads, 1.2 s on Dask;
    # benchmarks/bench_interrupts.py measures it). A busy CI machine once took 2.3 s.
    assert float(match[1]) < 10.0
    # Nothing trains on after the interrupt (in this process; loky's workers are stopped).
    assert int(match[2]) == 0


# ---------------------------------------------------------------- statistics guard inputs
def test_tests_of_scores_without_spread_warn_and_say_what_they_return():
    from ensemblekit.model_selection import corrected_resampled_ttest

    with pytest.warns(UserWarning, match="scored the same on every split.*pvalue=1"):
        same = corrected_resampled_ttest([0.8] * 5, [0.8] * 5, n_train=80, n_test=20)
    assert (same.statistic, same.pvalue) == (0.0, 1.0)
    with pytest.warns(UserWarning, match=r"ahead by the same margin \(\+0.1\)"):
        ahead = corrected_resampled_ttest([0.9] * 5, [0.8] * 5, n_train=80, n_test=20)
    assert (ahead.statistic, ahead.pvalue) == (np.inf, 0.0)
    with pytest.raises(ValueError, match=r"scores of splits \[2\] are not finite"):
        corrected_resampled_ttest([0.8, 0.7, np.nan, 0.8], n_train=80, n_test=20)


def test_paired_5x2cv_of_equal_models_warns_instead_of_nan(binary):
    from sklearn.dummy import DummyClassifier

    from ensemblekit.model_selection import paired_ttest_5x2cv

    X, y = binary
    for variant in ("t", "f"):
        with pytest.warns(UserWarning, match="scored the same on every split"):
            result = paired_ttest_5x2cv(
                DummyClassifier(), DummyClassifier(), X, y, variant=variant, random_state=0
            )
        assert (result.statistic, result.pvalue) == (0.0, 1.0)


def test_mcnemar_and_compare_models_check_their_arguments_before_any_fit(binary):
    from sklearn.dummy import DummyClassifier

    from ensemblekit.model_selection import compare_models, mcnemar_test

    X, y = binary
    with pytest.raises(ValueError, match="at least one row"):
        mcnemar_test([], [], [])
    with pytest.raises(ValueError, match=r"confidence_level must be in \(0, 1\), got 1.5"):
        compare_models({"dummy": TreeClassifier()}, X, y, confidence_level=1.5)
    with pytest.raises(TypeError, match="must name its models: pass a dict of name: estimator"):
        compare_models([DummyClassifier()], X, y)
    labels = np.array(["no", "yes"])[y]
    table = compare_models(
        {"dummy": DummyClassifier(), "tree": DecisionTreeClassifier(random_state=0)},
        X, labels, cv=3,
    )  # fmt: skip
    assert [row.name for row in table] == ["tree", "dummy"]


class _NaNRegressor(RegressorMixin, BaseEstimator):
    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X):
        return np.full(len(X), np.nan)


def test_bootstrap_score_refuses_rounds_that_predict_nan(regression):
    from ensemblekit.model_selection import bootstrap_score

    X, y = regression
    with pytest.raises(ValueError, match="The model of round 0 predicts NaN or inf"):
        bootstrap_score(_NaNRegressor(), X, y, n_rounds=2, random_state=0)


def test_bias_variance_checks_the_column_names(binary):
    pd = pytest.importorskip("pandas")
    from ensemblekit.model_selection import bias_variance_decomp

    X, y = binary
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    permuted = frame[frame.columns[::-1]]
    with pytest.raises(ValueError, match=r"X_test's columns differ.*X_test\[X_train.columns\]"):
        bias_variance_decomp(
            DecisionTreeClassifier(), frame[:150], y[:150], permuted[150:], y[150:], n_rounds=2
        )
    result = bias_variance_decomp(
        DecisionTreeClassifier(), frame[:150], y[:150], frame[150:], y[150:], n_rounds=2
    )
    assert 0 <= result.expected_loss <= 1


# ---------------------------------------------------------------- memory
def _fake_cgroups(tmp_path, monkeypatch, membership: str, levels: dict) -> None:
    """A cgroup tree in ``tmp_path``: ``membership`` as /proc/self/cgroup says it, and
    ``{folder: (limit, usage)}`` under the mount root."""
    from ensemblekit.nets import _stack_memory as _stacked

    root = tmp_path / "cgroup"
    for folder, (limit, usage) in levels.items():
        level = root / folder
        level.mkdir(parents=True, exist_ok=True)
        v1 = folder.split("/")[0] == "memory"
        (level / ("memory.limit_in_bytes" if v1 else "memory.max")).write_text(limit + "\n")
        (level / ("memory.usage_in_bytes" if v1 else "memory.current")).write_text(usage + "\n")
    (tmp_path / "self").write_text(membership)
    monkeypatch.setattr(_stacked, "_CGROUP_ROOT", root)
    monkeypatch.setattr(_stacked, "_SELF_CGROUP", tmp_path / "self")


V2_JOB = "0::/batch.slice/job42\n"
V1_JOB = "4:memory:/batch/job42\n3:cpu:/\n"


@pytest.mark.parametrize(
    ("membership", "levels", "left"),
    [
        # cgroup v2: no limit on the root, one on the process's slice and a looser one
        # on its job: the slice's is what is left.
        (V2_JOB, {".": ("max", "9"), "batch.slice": ("1000000", "400000"),
                  "batch.slice/job42": ("5000000", "100000")}, 600_000),
        # The job's own limit is the tighter one.
        (V2_JOB, {".": ("max", "9"), "batch.slice/job42": ("700000", "200000")}, 500_000),
        # cgroup v1, the limit on the process's own cgroup only (a root without one).
        (V1_JOB, {"memory": ("9223372036854771712", "1"),
                  "memory/batch/job42": ("1000000", "400000")}, 600_000),
        # Both hierarchies (a hybrid host): the least left wins.
        (V2_JOB + V1_JOB, {"batch.slice": ("900000", "0"),
                           "memory/batch": ("1000000", "400000")}, 600_000),
        (V2_JOB, {".": ("max", "1"), "batch.slice/job42": ("max", "1")}, None),
        ("9:cpu:/\n", {}, None),  # no memory controller
        ("not a cgroup line", {}, None),
    ],
)  # fmt: skip
def test_the_memory_guard_reads_the_limits_of_its_own_cgroup(
    membership, levels, left, tmp_path, monkeypatch
):
    from ensemblekit.nets import _stack_memory as _stacked

    _fake_cgroups(tmp_path, monkeypatch, membership, levels)
    assert _stacked._cgroup_memory_left() == left
    available = _stacked._available_memory(torch.device("cpu"))
    assert available == left if left else available > 600_000


def test_the_memory_guard_without_cgroups(tmp_path, monkeypatch):
    from ensemblekit.nets import _stack_memory as _stacked

    monkeypatch.setattr(_stacked, "_SELF_CGROUP", tmp_path / "missing")
    assert _stacked._cgroup_memory_left() is None


def _stacked_pass(budget: int | None) -> dict:
    """The memory benchmark's measurement, in a fresh process: 24 bagged MLP members on
    20,000 rows, one epoch of batches of 512; the guard's estimate, its chunks and the
    pass's peak."""
    script = Path(__file__).parent.parent / "benchmarks" / "bench_memory.py"
    # glibc's fixed threshold makes the resident peak repeatable (see the benchmark).
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "0", "MALLOC_MMAP_THRESHOLD_": "65536"}
    net = json.dumps({"max_epochs": 1, "batch_size": 512})
    command = [sys.executable, str(script), "--child", "24", net, str(budget)]
    out = subprocess.run(command, capture_output=True, text=True, env=env, cwd=script.parent)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="measures the peak through Linux's /proc"
)
def test_the_memory_guard_estimates_and_bounds_the_stacked_pass():
    whole = _stacked_pass(None)
    assert whole["chunks"] == [24]
    assert 0.9 <= whole["estimate"] / whole["peak"] <= 1.1
    # A budget a third of what the pass takes: members are prepared and trained stack by
    # stack, which keeps the whole pass, rows and finished members included, within it
    # (preparing every member first measured 1.04 of the budget, 0.86 of the estimate).
    budget = whole["peak"] // 3
    small = _stacked_pass(budget)
    assert len(small["chunks"]) > 2 and sum(small["chunks"]) == 24
    assert small["peak"] <= budget
    assert 0.9 <= small["estimate"] / small["peak"] <= 1.1


# ---------------------------------------------------------------- extras
def test_a_missing_extra_names_the_extra_to_install(monkeypatch, binary):
    from imblearn.under_sampling import RandomUnderSampler

    from ensemblekit.model_selection import BiasVarianceDisplay

    X, y = binary
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # as if not installed
    monkeypatch.setitem(sys.modules, "imblearn.pipeline", None)
    display = BiasVarianceDisplay(
        param_name="depth", param_values=[1, 2], expected_loss=[0.3, 0.2], bias=[0.2, 0.1],
        variance=[0.1, 0.1], loss="mse",
    )  # fmt: skip
    with pytest.raises(ImportError, match=r"needs matplotlib.*ensemblekit\[plot\]"):
        display.plot()
    bagging = BaggingClassifier(TreeClassifier(), sampler=RandomUnderSampler(), n_estimators=2)
    with pytest.raises(ImportError, match=r"sampler needs imbalanced-learn.*\[imbalanced\]"):
        bagging.fit(X, y)


@pytest.mark.parametrize("param", ["batch_sampler", "batch_sampler__sampling_ratio"])
def test_a_regressor_refuses_a_batch_sampler_and_says_why(param, binary):
    X, y = binary
    net = NeuralNetRegressor(max_epochs=1, **{param: "balanced"})
    with pytest.raises(ValueError, match=f"got {param}, but a batch sampler balances the classes"):
        net.fit(X, y.astype(np.float32))
    assert not hasattr(net, "module_")


class _OpenModule(torch.nn.Module):
    """A module that takes any keyword: nothing to check its prefixed parameters against."""

    def __init__(self, n_features=4, n_outputs=2, **kwargs):
        super().__init__()
        self.linear = torch.nn.Linear(n_features, n_outputs)

    def forward(self, X):
        return self.linear(X)


def test_a_misspelt_prefixed_parameter_names_the_nearest_one_before_any_fit(binary):
    from sklearn.model_selection import GridSearchCV

    X, y = binary
    search = GridSearchCV(
        BaggingClassifier(NeuralNetClassifier(max_epochs=1), n_estimators=2),
        {"estimator__module__hiden_units": [(4,), (8,)]},
        cv=2,
    )
    hint = r"MLP takes no parameter 'hiden_units'; did you mean 'module__hidden_units'\?"
    with pytest.raises(ValueError, match=hint):  # at once, not "All the 2 fits failed"
        search.fit(X, y)
    with pytest.raises(ValueError, match=r"did you mean 'optimizer__weight_decay'\?"):
        NeuralNetClassifier(max_epochs=1, optimizer__weight_decy=0.1).fit(X, y)
    fitted = NeuralNetClassifier(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"CrossEntropyLoss takes no parameter 'smoothing'"):
        fitted.set_params(criterion__smoothing=0.1)
    # Right names pass, and so does anything a **kwargs module takes.
    NeuralNetClassifier(
        max_epochs=1, module__dropout=0.1, optimizer__weight_decay=1e-4,
        criterion__label_smoothing=0.1, optimizer__param_groups=[("*", {"lr": 0.01})],
    ).fit(X, y)  # fmt: skip
    NeuralNetClassifier(module=_OpenModule, module__anything=1, max_epochs=1).fit(X, y)
