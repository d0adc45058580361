"""Every script in examples/ runs in quick mode, so no example rots."""

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))


# Runs the script given as the first argument with warnings as errors, but for
# ConvergenceWarning: quick mode trains few epochs on purpose. (``-W`` cannot name it: the
# option is read before scikit-learn can be imported.)
_RUN_WARNINGS_AS_ERRORS = """
import os, runpy, sys, warnings
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("error")
warnings.simplefilter("ignore", ConvergenceWarning)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


# A guard against a hang, not a speed test: quick runs take seconds to a minute alone, and
# several times that on 2 cores shared with other tests or a busy machine.
HANG = 1800


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_in_quick_mode(script, tmp_path):
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "1", "MPLBACKEND": "Agg"}
    env["ENSEMBLEKIT_FIGURES"] = str(tmp_path / "figures")
    (tmp_path / "cwd").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _RUN_WARNINGS_AS_ERRORS, str(script)],
        cwd=tmp_path / "cwd",
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "an example should show its result"
    # What it prints is for a reader: no path of this machine, no numpy reprs.
    for machine_path in (str(tmp_path), str(script.parent.parent)):
        assert machine_path not in result.stdout, result.stdout
    assert "np.float64(" not in result.stdout and "np.int64(" not in result.stdout
    # Figures go to the folder the environment names, not the current directory.
    assert not any((tmp_path / "cwd").iterdir())
    saved = sorted(path.name for path in (tmp_path / "figures").glob("*.png"))
    assert saved == ([f"{script.stem}.png"] if "savefig(" in script.read_text() else [])


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_an_example_imports_only_what_a_user_has(script):
    """A reader copies an example as it is: it imports installed packages, never a helper
    module beside it."""
    tree = ast.parse(script.read_text())
    modules = {
        (node.module or "") if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    for module in modules:
        top = module.split(".")[0]
        assert not top.startswith("_") and not (script.parent / f"{top}.py").exists(), module
        assert importlib.util.find_spec(top) is not None, module
