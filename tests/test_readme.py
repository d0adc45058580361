"""The Python blocks of the README and the user guide run as written, so they never go stale."""

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
GUIDES = sorted((ROOT / "docs").glob("*.md"))

# The README and the guide show tiny nets trained a few epochs, so that their blocks run in
# moments: that those nets have not converged is expected. The guide's coarse search spans
# learning rates up to 1 on purpose, at which some candidates diverge (and score so).
pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::ensemblekit.nets.DivergenceWarning"),
]


def _python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_readme_python_blocks_run(capsys):
    blocks = _python_blocks(README)
    assert blocks, "the README should show a runnable quick start"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    assert "neuralnetclassifier__lr" in capsys.readouterr().out


@pytest.mark.parametrize("guide", [g for g in GUIDES if _python_blocks(g)], ids=lambda g: g.name)
def test_user_guide_python_blocks_run(guide, tmp_path, monkeypatch, isolated_imports):
    monkeypatch.chdir(tmp_path)  # anything a block writes or imports stays out of the repository
    for block in _python_blocks(guide):
        exec(compile(block, str(guide), "exec"), {})


def _public_callables() -> dict:
    names = {}
    for module in ("nets", "ensemble", "model_selection", "imbalance", "averaging", "metrics",
                   "diagnostics", "engine", "utils", "experiment"):  # fmt: skip
        mod = importlib.import_module(f"ensemblekit.{module}")
        names |= {n: getattr(mod, n) for n in mod.__all__ if callable(getattr(mod, n))}
    return names


def _calls(text: str):
    """Inline code that calls a name with arguments, ``name(...)``, outside code blocks."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    call_of = re.compile(r"(?:[\w.]+\.)?(\w+)\((.*)\)(?:\.\w+\(\))?")
    for span in re.findall(r"`([^`]+)`", prose):
        if call := call_of.fullmatch(" ".join(span.split())):
            yield call.group(1), call.group(2)


@pytest.mark.parametrize("page", [README, *GUIDES], ids=lambda p: p.name)
def test_signatures_in_the_text_agree_with_the_code(page):
    """A keyword the text names is a parameter; the text never retypes a whole signature
    (it links to the API reference, generated from the code, instead)."""
    public = _public_callables()
    for name, args in _calls(page.read_text()):
        if name not in public:
            continue
        params = inspect.signature(public[name]).parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        keywords = re.findall(r"(?<![\w.])(\w+)=", args)
        for keyword in keywords:
            assert keyword in params or takes_any, f"{page.name}: {name} takes no {keyword!r}"
        retyped = "*," in args or len(keywords) > 3
        assert not retyped, f"{page.name}: `{name}({args})` retypes a signature"
