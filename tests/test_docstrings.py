"""Every public name is documented: each parameter, its results, its siblings, an example."""

import importlib
import inspect
import re
from pathlib import Path

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


def _bodies(doc: str, titles) -> list[str]:
    """The bodies of a numpydoc docstring's sections with one of these titles."""
    parts = _SECTION.split(doc)  # text, title, body, title, body, ...
    return [body for title, body in zip(parts[1::2], parts[2::2], strict=True) if title in titles]


def _section(doc: str, title: str) -> str | None:
    return next(iter(_bodies(doc, (title,))), None)


def documented(doc: str, sections) -> set[str] | None:
    """Names a numpydoc docstring documents in ``sections`` (None: no such section).

    An entry is a line at the section's indentation, ``name : type`` or ``a, b : type``.
    """
    bodies = _bodies(doc, sections)
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


# Public classes with no Attributes section, and why.
NO_ATTRIBUTES = {
    "nets.GaussianNLLLoss": "a loss: it holds its parameters only",
    "diagnostics.GradientMonitor": "a callback: it writes to the net's history, under keys "
    "its docstring names",
    "diagnostics.ActivationMonitor": "as GradientMonitor",
    "diagnostics.UpdateRatioMonitor": "as GradientMonitor",
    "engine.MemberPlan": "a frozen dataclass: its fields are its Parameters",
    "model_selection.ComparisonTables": "a dict of ComparisonTable by scorer",
    "model_selection.SearchBorderWarning": "a warning: its message is all it holds",
    "model_selection.NotStackedWarning": "a warning: its message is all it holds",
    "nets.DivergenceWarning": "a warning: its message is all it holds",
    "experiment.StudyChangedError": "StudyError's attributes",
}


def _all_public():
    for module in MODULES:
        mod = importlib.import_module(f"ensemblekit.{module}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):  # not the constants
                yield f"{module}.{name}", obj


def _resolve(name: str, module: str):
    """The object a See Also entry names: dotted from the top, or in ``module``."""
    head, *rest = name.split(".")
    if head in ("ensemblekit", "sklearn", "scipy", "torch"):
        obj, parts = importlib.import_module(head), rest
        for i, part in enumerate(parts):
            try:
                obj = getattr(obj, part)
            except AttributeError:
                obj = importlib.import_module(".".join([head, *parts[: i + 1]]))
        return obj
    obj = getattr(importlib.import_module(f"ensemblekit.{module}"), head)
    for part in rest:
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(("name", "obj"), list(_all_public()), ids=[n for n, _ in _all_public()])
def test_every_public_name_has_its_sections(name, obj):
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        if name not in NO_ATTRIBUTES:
            assert _section(doc, "Attributes") is not None, f"{name} has no Attributes section"
    else:
        assert _section(doc, "Returns") or _section(doc, "Yields"), f"{name} returns nothing"
    examples = _section(doc, "Examples")
    assert examples is not None and ">>> " in examples, f"{name} has no runnable example"
    outside = re.search(r"\.\./|\b[A-Z]+\.md\b", doc)
    assert not outside, f"{name} points to a file a user does not have: {outside.group()}"
    see_also = _section(doc, "See Also")
    assert see_also, f"{name} has no See Also section naming its siblings"
    for line in see_also.splitlines():
        if line and not line[0].isspace():
            for entry in line.split(" : ")[0].split(","):
                assert _resolve(entry.strip(), name.split(".")[0]) is not None


def test_the_api_reference_lists_every_public_name():
    """docs/api.rst names each module's public names under that module's heading."""
    text = (Path(__file__).parent.parent / "docs" / "api.rst").read_text()
    sections = dict(
        re.findall(r"\.\. currentmodule:: ensemblekit\.(\w+)\n(.*?)(?=\n``|\Z)", text, re.S)
    )
    for module in MODULES:
        listed = set(re.findall(r"^   (\w+)$", sections.get(module, ""), re.M))
        missing = set(importlib.import_module(f"ensemblekit.{module}").__all__) - listed
        assert not missing, f"docs/api.rst does not list ensemblekit.{module}.{sorted(missing)}"


def test_the_package_docstring_maps_every_subpackage():
    import pkgutil

    import ensemblekit

    subpackages = [m.name for m in pkgutil.iter_modules(ensemblekit.__path__) if m.ispkg]
    assert len(subpackages) >= 10
    for name in subpackages:
        assert f"``ensemblekit.{name}``" in ensemblekit.__doc__, name
    assert "getting_started" in ensemblekit.__doc__
