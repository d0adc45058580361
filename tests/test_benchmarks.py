"""The benchmark scripts run in quick mode, so they do not rot (their timings are not tested)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parent.parent / "benchmarks").glob("bench_*.py"))


# A guard against a hang, not a speed test: quick runs take seconds to a minute alone, and
# several times that on 2 cores shared with other tests or a busy machine.
HANG = 1800


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_benchmark_runs_in_quick_mode(script, tmp_path):
    env = {**os.environ, "ENSEMBLEKIT_QUICK": "1"}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=HANG,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ensemblekit" in result.stdout
