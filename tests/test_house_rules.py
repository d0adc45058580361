"""The house's own rules, read from ``docs/developers.md`` and held against the code.

A package imports only the packages its row of the floor table lists, and only names the
owner exports (its ``__all__``; ``utils`` is shared by all); no package calls another
package's private methods; the engine's functions stay short; the study package has no
import circle. Each rule is tested on a planted violation too, so a checker that finds
nothing because it reads nothing fails here.
"""

import ast
import importlib
import pathlib
import re
from collections import defaultdict

import pytest

import ensemblekit

ROOT = pathlib.Path(ensemblekit.__file__).parent
DEVELOPERS = ROOT.parent / "docs" / "developers.md"
#: The console entry (``python -m ensemblekit``) starts the CLI, which is no public name.
ENTRY = {("ensemblekit.__main__", "ensemblekit.experiment._cli")}
#: Imports inside functions that the experiment package keeps: optional extras (MLflow,
#: matplotlib) are imported where used, and the CLI imports late to keep ``--help`` fast.
LATE = ("ensemblekit.experiment._cli",)


def floor_table(text: str) -> dict[str, set[str]]:
    """Package -> the packages it may import, from the page's floor table (one row per
    package: ``| floor | `package` | `a`, `b` |``)."""
    section = text.split("## The packages, as floors", 1)[1].split("\n## ", 1)[0]
    allowed = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].isdigit():
            continue
        (package,) = re.findall(r"`(\w+)`", cells[1])
        allowed[package] = set(re.findall(r"`(\w+)`", cells[2]))
    return allowed


def module_name(path: pathlib.Path, root: pathlib.Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(module: str, source: str, is_package: bool = False) -> list[tuple]:
    """``(line, inside_a_function, target_module, name)`` for each ensemblekit import."""
    found = []

    def walk(node, depth):
        for child in ast.iter_child_nodes(node):
            inner = depth + isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")[: None if is_package else -1]
                    base = base[: len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] == "ensemblekit":
                    found.extend((child.lineno, depth > 0, target, a.name) for a in child.names)
            elif isinstance(child, ast.Import):
                found.extend(
                    (child.lineno, depth > 0, a.name, None)
                    for a in child.names
                    if a.name.split(".")[0] == "ensemblekit"
                )
            walk(child, inner)

    walk(ast.parse(source), 0)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def sources(root: pathlib.Path = ROOT) -> dict[str, tuple[str, bool]]:
    return {
        module_name(path, root): (path.read_text(), path.name == "__init__.py")
        for path in sorted(root.rglob("*.py"))
    }


def import_violations(files: dict, allowed: dict, exports) -> list[str]:
    """Imports against the floor table, and of names the owner does not export."""
    found = []
    for module, (source, is_package) in files.items():
        own = package_of(module)
        for line, _, target, name in imports_of(module, source, is_package):
            other = package_of(target)
            if other in ("", own) or (module, target) in ENTRY:
                continue
            where = f"{module}:{line} imports {target}" + (f".{name}" if name else "")
            if own and other not in allowed.get(own, set()):
                found.append(f"{where}: {own} may import only {sorted(allowed.get(own, []))}")
            if other != "utils" and (
                target != f"ensemblekit.{other}" or name not in exports(other)
            ):
                found.append(f"{where}: not in ensemblekit.{other}.__all__")
    return found


def _exports(package: str) -> set[str]:
    return set(importlib.import_module(f"ensemblekit.{package}").__all__)


def private_calls(files: dict) -> list[str]:
    """Calls of another package's private methods (``obj._name()`` where ``_name`` is a
    method defined only in other packages' classes)."""
    owners = defaultdict(set)
    trees = {module: ast.parse(source) for module, (source, _) in files.items()}
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    name = getattr(item, "name", "")
                    if isinstance(item, ast.FunctionDef) and name[:1] == "_" != name[1:2]:
                        owners[name].add(package_of(module))
    found = []
    for module, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name, on = node.func.attr, node.func.value
            if on_self(on) or name not in owners or package_of(module) in owners[name]:
                continue
            found.append(f"{module}:{node.lineno} calls {ast.unparse(on)}.{name}()")
    return found


def on_self(node) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "super"


def long_functions(files: dict, package: str, limit: int = 100) -> list[str]:
    return [
        f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines"
        for module, (source, _) in files.items()
        if package_of(module) == package
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > limit
    ]


def circles(files: dict, package: str) -> list[list[str]]:
    """The import circles of more than one module inside ``package`` (any import, at
    module level or inside a function): its graph's strongly connected components."""
    inside = {m for m in files if package_of(m) == package}
    edges = {m: set() for m in inside}
    for module in inside:
        source, is_package = files[module]
        for _, _, target, name in imports_of(module, source, is_package):
            for candidate in (f"{target}.{name}", target):
                if candidate in inside and candidate != module:
                    edges[module].add(candidate)
                    break
    index, low, stack, on, found = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(inside):
        if v not in index:
            connect(v)
    return found


def late_imports(files: dict, package: str) -> list[str]:
    return [
        f"{module}:{line} imports {target}.{name}"
        for module, (source, is_package) in files.items()
        if package_of(module) == package and module not in LATE
        for line, inside, target, name in imports_of(module, source, is_package)
        if inside
    ]


# ------------------------------------------------------------------------- the rules
FILES = sources()


def test_the_floor_table_names_every_package():
    allowed = floor_table(DEVELOPERS.read_text())
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()}
    assert set(allowed) == packages, "docs/developers.md's floor table lists one row per package"
    assert allowed["utils"] == set()


def test_imports_keep_to_the_floor_table_and_the_exports():
    allowed = floor_table(DEVELOPERS.read_text())
    assert import_violations(FILES, allowed, _exports) == []


def test_no_package_calls_another_packages_private_methods():
    assert private_calls(FILES) == []


def test_the_engine_has_no_function_over_100_lines():
    assert long_functions(FILES, "engine") == []


def test_the_study_package_has_no_import_circle_and_few_late_imports():
    assert circles(FILES, "experiment") == []
    assert late_imports(FILES, "experiment") == []


# ---------------------------------------------------------------- planted violations
PLANTED = {
    "ensemblekit.utils._x": ("from ..metrics import check_scoring\n", False),
    "ensemblekit.engine._y": (
        "from ..metrics._scorers import resolve_scoring\n"
        "def f(est):\n    return est._combined_indices()\n",
        False,
    ),
    "ensemblekit.ensemble._z": ("class E:\n    def _combined_indices(self): ...\n", False),
    "ensemblekit.experiment._a": ("from ._b import B\n", False),
    "ensemblekit.experiment._b": ("def f():\n    from ._a import A\n", False),
}


def test_each_checker_finds_a_planted_violation():
    allowed = floor_table(DEVELOPERS.read_text())
    found = import_violations(PLANTED, allowed, lambda package: {"check_scoring"})
    assert any("utils._x:1" in f and "may import only []" in f for f in found), found
    assert any("engine._y:1" in f and "__all__" in f for f in found), found
    assert private_calls(PLANTED) == ["ensemblekit.engine._y:3 calls est._combined_indices()"]
    assert circles(PLANTED, "experiment") == [
        ["ensemblekit.experiment._a", "ensemblekit.experiment._b"]
    ]
    assert late_imports(PLANTED, "experiment") == [
        "ensemblekit.experiment._b:2 imports ensemblekit.experiment._a.A"
    ]
    long = {"ensemblekit.engine._l": ("def f():\n" + "    x = 1\n" * 100, False)}
    assert long_functions(long, "engine") == ["ensemblekit.engine._l.f: 101 lines"]


@pytest.mark.parametrize("row", ["| 0 | `utils` | nothing of ensemblekit |"])
def test_the_table_reader_reads_the_rows_the_page_shows(row):
    assert floor_table(f"## The packages, as floors\n\n{row}\n") == {"utils": set()}


def test_every_file_the_page_names_exists():
    named = re.findall(r"`((?:[\w.]+/)+[\w.]*)`", DEVELOPERS.read_text())
    assert len(named) > 10
    named = [path.replace("KIND", "comparison") for path in named]  # a placeholder
    missing = [
        path for path in named if not any((base / path).exists() for base in (ROOT, ROOT.parent))
    ]
    assert missing == []
