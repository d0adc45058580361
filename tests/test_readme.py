"""The README's Python blocks run as written, so the quick start never goes stale."""

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_blocks_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README should show a runnable quick start"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert "neuralnetclassifier__lr" in capsys.readouterr().out
