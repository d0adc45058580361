"""The Python blocks of the README and the user guide run as written, so they never go stale."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_python_blocks_run(capsys):
    blocks = _python_blocks(README)
    assert blocks, "the README should show a runnable quick start"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert "neuralnetclassifier__lr" in capsys.readouterr().out


@pytest.mark.parametrize("guide", [g for g in GUIDES if _python_blocks(g)], ids=lambda g: g.name)
def test_user_guide_python_blocks_run(guide, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything a block writes stays out of the repository
    for block in _python_blocks(guide):
        exec(compile(block, str(guide), "exec"), {})
