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


class _FileProgress:
    """A line per test file as its last test ends ("tests/test_nets.py: 85 passed, 2
    skipped, 41 s"), so a long run shows where it is, also under pytest-xdist, whose
    workers run one file's tests side by side. The dots and the summary are pytest's."""

    def __init__(self, config):
        self.config, self.left, self.counts, self.started = config, {}, {}, {}

    def _count(self, nodeids):
        if self.left:
            return  # every xdist worker collects the same tests: count them once
        for nodeid in nodeids:
            path = nodeid.split("::")[0]
            self.left[path] = self.left.get(path, 0) + 1

    def pytest_collection_finish(self, session):
        if not hasattr(self.config, "workerinput"):  # not inside an xdist worker
            self._count(item.nodeid for item in session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self._count(ids)

    def pytest_runtest_logreport(self, report):
        import time

        path = report.nodeid.split("::")[0]
        self.started.setdefault(path, time.monotonic())
        last = report.when == "teardown"
        if report.when == "call" or (report.when == "setup" and not report.passed):
            outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            counts = self.counts.setdefault(path, {})
            counts[outcome] = counts.get(outcome, 0) + 1
        if not last or path not in self.left:
            return
        self.left[path] -= 1
        if self.left[path] == 0:
            seconds = time.monotonic() - self.started[path]
            counts = ", ".join(f"{n} {what}" for what, n in self.counts.get(path, {}).items())
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None and reporter.verbosity >= 0:
                reporter.write("\n")
                reporter.write_line(f"{path}: {counts}, {seconds:.0f} s")


def pytest_configure(config):
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(_FileProgress(config), "ensemblekit-file-progress")
