"""Every script in examples/ runs in quick mode, so no example rots."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Scripts, not their helper modules (``_figures.py``).
EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("[!_]*.py"))


# Runs the script given as the first argument with warnings as errors, but for
# ConvergenceWarning: quick mode trains few epochs on purpose. (``-W`` cannot name it: the
# option is read before scikit-learn can be imported.)
_RUN_WARNINGS_AS_ERRORS = """
import os, runpy, sys, warnings
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("error")
warnings.simplefilter("ignore", ConvergenceWarning)
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))  # as running the script puts it
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_in_quick_mode(script, tmp_path):
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "1", "MPLBACKEND": "Agg"}
    env["ENSEMBLEKIT_FIGURES"] = str(tmp_path / "from-env")
    (tmp_path / "cwd").mkdir()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN_WARNINGS_AS_ERRORS,
            str(script),
            "--figures",
            str(tmp_path / "figures"),
        ],
        cwd=tmp_path / "cwd",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip(), "an example should show its result"
    # What it prints is for a reader: no path of this machine, no numpy reprs.
    for machine_path in (str(tmp_path), str(script.parent.parent)):
        assert machine_path not in result.stdout, result.stdout
    assert "np.float64(" not in result.stdout and "np.int64(" not in result.stdout
    # Figures go to the folder named by --figures, before the environment's, never the
    # current directory.
    assert not any((tmp_path / "cwd").iterdir())
    assert not (tmp_path / "from-env").exists()
    saved = sorted(path.name for path in (tmp_path / "figures").glob("*.png"))
    assert saved == ([f"{script.stem}.png"] if "save(fig" in script.read_text() else [])


def test_examples_save_figures_where_the_environment_says(tmp_path):
    script = next(path for path in EXAMPLES if path.name == "plot_bias_variance.py")
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "1", "MPLBACKEND": "Agg"}
    env["ENSEMBLEKIT_FIGURES"] = str(tmp_path / "figures")
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "figures" / "plot_bias_variance.png").exists()
