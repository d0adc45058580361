"""Diagnostics: each check catches the fault planted for it and passes a healthy net."""

import numpy as np
import pytest
import torch

from ensemblekit.diagnostics import gradient_check
from ensemblekit.nets import MLP


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


def test_the_gradient_report_plots_errors_against_the_thresholds(rows):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = rows
    report = gradient_check(_BuggyNet(), torch.nn.CrossEntropyLoss(), X, y, random_state=0)
    ax = report.plot()
    assert ax.get_xscale() == "log" and len(ax.patches) == len(report) == 4
    assert [t.get_text() for t in ax.texts] == ["wrong", "suspicious", "good"]
