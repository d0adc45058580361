"""Reports of diagnostic checks: each check's value, expectation, status and advice."""

from __future__ import annotations

from dataclasses import dataclass

_STATUSES = ("pass", "warn", "fail")


@dataclass(frozen=True)
class Check:
    """One diagnostic check.

    Attributes
    ----------
    name : str
    value : float
        What was measured.
    expectation : str
        What a healthy net gives, in words.
    status : {"pass", "warn", "fail"}
    advice : str
        One sentence: what the value means and what to do.

    See Also
    --------
    sanity_check : the checks that return it.
    DiagnosticReport : checks by name.

    Examples
    --------
    >>> import torch
    >>> from ensemblekit.diagnostics import gradient_check
    >>> from ensemblekit.nets import MLP
    >>> module = MLP(n_features=3, n_outputs=1, hidden_units=(4,), activation="tanh",
    ...              random_state=0)
    >>> X, y = torch.randn(6, 3), torch.randn(6, 1)
    >>> check = gradient_check(module, torch.nn.MSELoss(), X, y, random_state=0)["layers.0.bias"]
    >>> check.name, check.status, bool(check.value < 1e-4)
    ('layers.0.bias', 'pass', True)
    """

    name: str
    value: float
    expectation: str
    status: str
    advice: str

    def __post_init__(self):
        if self.status not in _STATUSES:
            raise ValueError(f"status must be one of {_STATUSES}, got {self.status!r}.")


class DiagnosticReport:
    """Checks by name (``report["initial_loss"].status``), in the order they ran.

    ``repr`` is a table a person can read; ``report.ok`` is True when no check failed.

    Parameters
    ----------
    title : str
        What was checked, shown above the table.
    checks : list of Check

    Attributes
    ----------
    title : str
    checks : dict of str to Check
        The checks by name, in the order they ran.
    ok : bool
        True when no check failed.

    See Also
    --------
    sanity_check : a function that returns one.
    Check : one of its checks.

    Examples
    --------
    >>> from ensemblekit.diagnostics import Check, DiagnosticReport
    >>> report = DiagnosticReport("my net", [
    ...     Check("initial_loss", 1.1, "about 1.10", "pass", "As expected."),
    ...     Check("overfit_small", 0.9, "near 0", "fail", "It cannot learn 20 rows."),
    ... ])
    >>> report.ok, report["overfit_small"].status, [check.name for check in report]
    (False, 'fail', ['initial_loss', 'overfit_small'])
    """

    def __init__(self, title: str, checks: list[Check]):
        self.title = title
        self.checks = {check.name: check for check in checks}

    def __getitem__(self, name: str) -> Check:
        try:
            return self.checks[name]
        except KeyError:
            raise KeyError(f"No check {name!r}; the checks are {list(self.checks)}.") from None

    def __iter__(self):
        return iter(self.checks.values())

    def __len__(self) -> int:
        return len(self.checks)

    @property
    def ok(self) -> bool:
        """No check failed (warnings allowed)."""
        return all(check.status != "fail" for check in self)

    def __repr__(self) -> str:
        width = max(len(check.name) for check in self)
        lines = [self.title]
        for check in self:
            lines.append(
                f"  {check.status.upper():4s}  {check.name:{width}s}  {check.value:<11.4g} "
                f"(expected {check.expectation})"
            )
            lines.append(f"        {' ' * width}  {check.advice}")
        return "\n".join(lines)
