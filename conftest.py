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


@pytest.fixture(autouse=True)
def _close_figures():
    """Figures a test or a docstring example draws are closed after it: pyplot keeps every
    open figure, and warns (an error here) past 20 in one test process."""
    yield
    import sys

    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
