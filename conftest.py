"""The docstring examples (doctests) show tiny nets trained a few epochs so that they run
in moments: that those nets have not converged is expected, so their ConvergenceWarning is
not an error there. Every other warning still is (pyproject.toml)."""

import pytest
from _pytest.doctest import DoctestItem


def pytest_collection_modifyitems(items):
    expected = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    for item in items:
        if isinstance(item, DoctestItem):
            item.add_marker(expected)
