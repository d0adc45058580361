"""Diagnostics: each check catches the fault planted for it and passes a healthy net."""

import numpy as np
import pytest
import torch

from ensemblekit.diagnostics import gradient_check
from ensemblekit.nets import MLP

# Tiny nets trained a few epochs on purpose: that they have not converged is expected.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class _DoubledSquare(torch.autograd.Function):
    """x ** 2 with a backward that is twice too large: the planted bug."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**2

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 4 * x  # should be 2 * x


class _BuggyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        generator = torch.Generator().manual_seed(0)
        self.first = torch.nn.Linear(4, 6)
        self.last = torch.nn.Linear(6, 3)
        for p in self.parameters():
            torch.nn.init.normal_(p, std=0.5, generator=generator)

    def forward(self, X):
        return self.last(_DoubledSquare.apply(self.first(X)))


@pytest.fixture(scope="module")
def rows():
    generator = torch.Generator().manual_seed(0)
    return torch.randn(12, 4, generator=generator), torch.arange(12) % 3


def test_gradient_check_passes_a_healthy_module_and_leaves_it_alone(rows):
    X, y = rows
    module = MLP(n_features=4, n_outputs=3, hidden_units=(6,), activation="tanh", random_state=0)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    report = gradient_check(module, torch.nn.CrossEntropyLoss, X, y, random_state=0)
    assert report.ok and [c.status for c in report] == ["pass"] * 4
    assert all(check.value < 1e-6 for check in report)
    for key, value in module.state_dict().items():
        assert value.dtype == torch.float32 and torch.equal(value, before[key])
    assert "PASS  layers.0.weight" in repr(report)


def test_gradient_check_catches_a_wrong_backward(rows):
    X, y = rows
    report = gradient_check(_BuggyNet(), torch.nn.CrossEntropyLoss(), X, y, random_state=0)
    assert not report.ok
    # Upstream of the bug the gradient is doubled: relative error 1/2. Downstream it is right.
    assert report["first.weight"].status == "fail"
    assert report["first.weight"].value == pytest.approx(0.5, rel=1e-4)
    assert report["last.weight"].status == "pass"
    with pytest.raises(KeyError, match=r"No check 'second\.weight'; the checks are"):
        report["second.weight"]


def test_gradient_check_of_a_regression_loss_and_bad_arguments(rows):
    X, _ = rows
    y = np.linspace(-1, 1, 12).reshape(-1, 1)
    module = MLP(n_features=4, n_outputs=1, hidden_units=(3,), activation="tanh", random_state=1)
    assert gradient_check(module, torch.nn.MSELoss(reduction="none"), X, y).ok
    with pytest.raises(ValueError, match="n_entries must be an int >= 1"):
        gradient_check(module, torch.nn.MSELoss(), X, y, n_entries=0)
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module"):
        gradient_check("mlp", torch.nn.MSELoss(), X, y)


class _NaNBackward(torch.autograd.Function):
    """The identity, whose backward returns NaN: the planted bug."""

    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


class _NaNNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(4, 3)

    def forward(self, X):
        return _NaNBackward.apply(self.first(X))


def test_a_gradient_that_is_not_finite_fails_and_shows_its_value(rows):
    X, y = rows
    report = gradient_check(_NaNNet(), torch.nn.CrossEntropyLoss(), X, y, random_state=0)
    assert not report.ok
    for check in report:
        assert check.status == "fail" and np.isnan(check.value)
        assert "analytic nan" in check.advice and "not finite" in check.advice
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    ax = report.plot()
    assert "not finite" in [t.get_text() for t in ax.texts]
    assert all(np.isfinite(patch.get_width()) for patch in ax.patches)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.full((12, 4), np.nan), None, "X holds NaN or infinity"),
        (np.full((12, 4), np.inf), None, "X holds NaN or infinity"),
        (None, np.r_[np.nan, np.zeros(11)], "y holds NaN or infinity"),
        (np.empty((0, 4)), np.empty(0), "X must hold at least one row"),
        (None, np.zeros(11, dtype=int), r"y must have one entry per row of X \(12\)"),
        (np.zeros((12, 5)), None, r"module cannot take X of shape \(12, 5\)"),
        (None, np.zeros((12, 5)), r"criterion cannot compare .* y of shape \(12, 5\)"),
        (np.array([["a"] * 4] * 12), None, "X and y must be numeric"),
    ],
)
def test_gradient_check_refuses_data_it_cannot_judge(rows, X, y, message):
    module = MLP(n_features=4, n_outputs=3, hidden_units=(3,), random_state=0)
    X = rows[0] if X is None else X
    y = rows[1] if y is None else y
    with pytest.raises(ValueError, match=message):
        gradient_check(module, torch.nn.CrossEntropyLoss(), X, y)


def test_the_gradient_report_plots_errors_against_the_thresholds(rows):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = rows
    report = gradient_check(_BuggyNet(), torch.nn.CrossEntropyLoss(), X, y, random_state=0)
    ax = report.plot()
    assert ax.get_xscale() == "log" and len(ax.patches) == len(report) == 4
    assert [t.get_text() for t in ax.texts] == ["wrong", "suspicious", "good"]


# ---------------------------------------------------------------- sanity_check
@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


class _DeadReLUs(MLP):
    """A bad initialisation: every hidden ReLU starts (and stays) at zero."""

    def reset_parameters(self):
        super().reset_parameters()
        with torch.no_grad():
            self.layers[0].bias.fill_(-100.0)


class _LoudStart(MLP):
    """A bad initialisation: logits a hundred times too large."""

    def reset_parameters(self):
        super().reset_parameters()
        with torch.no_grad():
            self.layers[-1].weight.mul_(100.0)


def _statuses(report):
    return {check.name: check.status for check in report}


def test_a_healthy_net_passes_and_is_left_alone(iris):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    net = NeuralNetClassifier(random_state=0)
    report = sanity_check(net, X, y, overfit_epochs=300, random_state=0)
    assert _statuses(report) == {
        "initial_loss": "pass", "regularization_raises_loss": "pass",
        "overfit_small_subset": "pass", "labels_carry_signal": "pass",
    }  # fmt: skip
    assert report["initial_loss"].value == pytest.approx(np.log(3), rel=0.1)
    assert report.ok and not net.initialized_  # the caller's net was never fitted
    assert "PASS  overfit_small_subset" in repr(report)


def test_sanity_check_says_which_check_runs_unless_told_not_to(iris, capsys):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    net = NeuralNetClassifier(random_state=0)
    sanity_check(net, X, y, overfit_epochs=5, random_state=0)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"sanity_check {i}/4" for i in range(1, 5)]
    assert "5 epochs on 20 rows" in lines[2]
    sanity_check(net, X, y, overfit_epochs=5, random_state=0, verbose=0)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("params", "fails"),
    [
        ({"module": _DeadReLUs}, {"overfit_small_subset"}),
        ({"module": _LoudStart}, {"initial_loss"}),
        (
            {"optimizer": torch.optim.SGD, "lr": 50.0},
            {"regularization_raises_loss", "overfit_small_subset"},
        ),
    ],
    ids=["dead ReLUs", "large initial logits", "learning rate far too high"],
)
def test_each_planted_fault_is_caught(iris, params, fails):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    net = NeuralNetClassifier(random_state=0, **params)
    report = sanity_check(net, X, y, overfit_epochs=300, random_state=0)
    assert {name for name, status in _statuses(report).items() if status == "fail"} == fails


@pytest.fixture(scope="module")
def digits_scaled():
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    X, y = load_digits(return_X_y=True)
    return StandardScaler().fit_transform(X), y


_SHUFFLED = np.random.RandomState(0).permutation


@pytest.mark.parametrize(
    ("params", "data", "check", "advice"),
    [
        ({"lr": 1e-7}, "iris", "overfit_small_subset", "lr=1e-07 is too small"),
        ({"lr": 10.0}, "iris", "overfit_small_subset", "lr=10.0 is too large"),
        ({"lr": 10.0}, "iris", "regularization_raises_loss", "lr=10.0 is too large"),
        (
            {"optimizer": torch.optim.SGD, "lr": 50.0}, "iris", "overfit_small_subset",
            "lr=50.0 is too large",
        ),
        (
            {"module__hidden_units": (1,)}, "iris", "overfit_small_subset",
            "raise module__hidden_units",
        ),
        (
            {"module__hidden_units": 1, "module__depth": 1}, "iris", "overfit_small_subset",
            "module__hidden_units=(1,)); raise module__hidden_units",
        ),
        ({}, "iris x 100", "initial_loss", "StandardScaler"),
        ({}, "digits, labels shuffled", "labels_carry_signal", "how X and y were joined"),
        (
            {"subset": 1000}, "digits, labels shuffled", "labels_carry_signal",
            "how X and y were joined",
        ),
        ({}, "identical rows", "overfit_small_subset", "share their X with a row of another"),
        ({"module": _DeadReLUs}, "iris", "overfit_small_subset", "they get no gradient"),
    ],
    ids=[
        "lr 1e-7", "Adam lr 10 (overfit)", "Adam lr 10 (decay)", "SGD lr 50",
        "hidden_units (1,)", "hidden_units 1, depth 1", "X x 100", "shuffled labels, subset 20",
        "shuffled labels, subset 1000", "identical rows", "dead ReLUs",
    ],
)  # fmt: skip
def test_each_planted_fault_fails_its_check_and_names_the_setting(
    iris, digits_scaled, params, data, check, advice
):  # fmt: skip
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = digits_scaled if data.startswith("digits") else iris
    if data == "iris x 100":
        X = X * 100
    elif data == "digits, labels shuffled":
        y = _SHUFFLED(y)
    elif data == "identical rows":
        X, y = np.ones_like(X), _SHUFFLED(y)
    params = dict(params)
    subset = params.pop("subset", 20)
    net = NeuralNetClassifier(random_state=0, **params)
    report = sanity_check(net, X, y, subset_size=subset, overfit_epochs=300, random_state=0)
    assert not report.ok
    assert report[check].status == "fail", report[check]
    assert advice in report[check].advice
    exploded = report[check].advice.startswith("the loss exploded")
    if check == "overfit_small_subset" and exploded:  # the peak, not a loss near 0
        assert report[check].value > 1.0, report[check]


def test_labels_carry_signal_cannot_judge_too_few_rows(iris):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    rows = np.r_[0:10, 50:60, 100:109]  # 29 rows
    check = sanity_check(NeuralNetClassifier(random_state=0), X[rows], y[rows],
                         overfit_epochs=50, random_state=0)["labels_carry_signal"]  # fmt: skip
    assert check.status == "warn" and "too few" in check.advice and np.isnan(check.value)


def test_labels_that_do_not_belong_to_their_rows_cannot_be_overfitted(iris):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    shuffled = np.random.default_rng(0).permutation(y)
    same_rows = np.ones_like(X)  # every row alike, labels shuffled: nothing to fit
    report = sanity_check(
        NeuralNetClassifier(random_state=0), same_rows, shuffled, overfit_epochs=300,
        random_state=0,
    )  # fmt: skip
    assert report["overfit_small_subset"].status == "fail"
    assert "labels that do not belong" in report["overfit_small_subset"].advice


def test_a_regressor_passes_and_bad_arguments_are_named():
    from sklearn.datasets import make_friedman1

    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetRegressor

    X, y = make_friedman1(n_samples=200, random_state=0)
    y = (y - y.mean()) / y.std()
    report = sanity_check(NeuralNetRegressor(random_state=0), X, y, random_state=0)
    assert report.ok and report["initial_loss"].expectation.startswith("about mean(y^2)")
    with pytest.raises(ValueError, match="subset_size must be an int >= 1"):
        sanity_check(NeuralNetRegressor(), X, y, subset_size=0)
    with pytest.raises(TypeError, match="NeuralNetClassifier or NeuralNetRegressor"):
        sanity_check(object(), X, y)


def test_the_sanity_report_plots_the_losses_behind_its_checks(iris):
    import matplotlib

    matplotlib.use("Agg")
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    report = sanity_check(NeuralNetClassifier(random_state=0), X, y, overfit_epochs=50,
                          regularization_epochs=3, random_state=0)  # fmt: skip
    left, right = report.plot()
    assert report.chance == pytest.approx(np.log(3))
    assert sorted(report.regularization_losses) == ["weight_decay=0", "weight_decay=1"]
    assert len(report.overfit_losses) == 50 and right.get_yscale() == "log"
    assert left.get_title() == "initial loss: PASS; decay raises the loss: PASS"
    np.testing.assert_array_equal(right.lines[0].get_ydata(), report.overfit_losses)

    diverged = sanity_check(
        NeuralNetClassifier(optimizer=torch.optim.SGD, lr=50.0, random_state=0), X, y,
        overfit_epochs=300, random_state=0,
    )  # fmt: skip
    assert len(diverged.overfit_losses) == 0
    assert diverged.plot()[1].get_title() == "overfit a small subset: FAIL"


def test_a_learning_rate_too_low_to_overfit_in_time_is_told_apart_from_a_bug(iris):
    from ensemblekit.diagnostics import sanity_check
    from ensemblekit.nets import NeuralNetClassifier

    X, y = iris
    slow = NeuralNetClassifier(optimizer=torch.optim.SGD, lr=1e-3, random_state=0)
    check = sanity_check(slow, X, y, overfit_epochs=100, random_state=0)["overfit_small_subset"]
    assert check.status == "fail"
    assert "still falling: raise lr (now 0.001" in check.advice
