"""Every parameter of every public class and function is documented in its docstring."""

import importlib
import inspect
import re

import pytest

MODULES = [
    "nets", "ensemble", "model_selection", "imbalance", "averaging", "metrics", "diagnostics",
    "engine", "utils", "experiment",
]  # fmt: skip
_SECTION = re.compile(r"^(\w[\w ]*)\n-+$", re.M)


def _public():
    for module in MODULES:
        mod = importlib.import_module(f"ensemblekit.{module}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            # A class that takes its parent's constructor is documented by the parent.
            if inspect.isfunction(obj) or (inspect.isclass(obj) and "__init__" in vars(obj)):
                yield f"{module}.{name}", obj


def documented(doc: str, sections) -> set[str] | None:
    """Names a numpydoc docstring documents in ``sections`` (None: no such section).

    An entry is a line at the section's indentation, ``name : type`` or ``a, b : type``.
    """
    parts = _SECTION.split(doc)  # text, title, body, title, body, ...
    bodies = [
        body for title, body in zip(parts[1::2], parts[2::2], strict=True) if title in sections
    ]
    if not bodies:
        return None
    names = set()
    for body in bodies:
        for line in body.splitlines():
            if entry := re.match(r"^(\*{0,2}[A-Za-z_][\w, *]*?)\s*(:|$)", line):
                names |= {n.strip().lstrip("*") for n in entry.group(1).split(",")}
    return names


@pytest.mark.parametrize(("name", "obj"), list(_public()), ids=[n for n, _ in _public()])
def test_every_parameter_is_documented(name, obj):
    params = [
        p.name
        for p in inspect.signature(obj).parameters.values()
        if p.kind is not p.VAR_POSITIONAL and p.name != "self"
    ]
    sections = ("Parameters", "Attributes") if inspect.isclass(obj) else ("Parameters",)
    names = documented(inspect.getdoc(obj) or "", sections)
    if params:
        assert names is not None, f"{name} has no {' or '.join(sections)} section"
        missing = [p for p in params if p not in names]
        assert not missing, f"{name} does not document {missing}"


def test_the_check_reads_numpydoc():
    doc = inspect.cleandoc(
        """Title.

        Parameters
        ----------
        a, b : int
            Two numbers: not: entries.
        **kwargs
            Passed on.

        Returns
        -------
        c : int
        """
    )
    assert documented(doc, ("Parameters",)) == {"a", "b", "kwargs"}
    assert documented(doc, ("Attributes",)) is None


def _methods():
    """Public methods our classes define: overrides of scikit-learn, skorch or torch
    methods (``fit``, ``forward``, callbacks' ``on_*``) are documented by those packages."""
    seen = set()
    for name, cls in _public():
        if not inspect.isclass(cls):
            continue
        foreign = {
            n for k in cls.__mro__ if not k.__module__.startswith("ensemblekit") for n in vars(k)
        }
        for klass in cls.__mro__:
            if not klass.__module__.startswith("ensemblekit"):
                continue
            for method_name, method in vars(klass).items():
                function = getattr(method, "__func__", method)
                if method_name.startswith("_") or method_name in foreign:
                    continue
                if inspect.isfunction(function) and function.__qualname__ not in seen:
                    seen.add(function.__qualname__)
                    yield f"{name}.{method_name}", function


@pytest.mark.parametrize(("name", "method"), list(_methods()), ids=[n for n, _ in _methods()])
def test_every_parameter_of_a_public_method_is_documented(name, method):
    params = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind is not p.VAR_POSITIONAL and p.name not in ("self", "cls")
    ]
    if params:
        names = documented(inspect.getdoc(method) or "", ("Parameters",))
        assert names is not None, f"{name} has no Parameters section"
        missing = [p for p in params if p not in names]
        assert not missing, f"{name} does not document {missing}"
