"""Sphinx configuration: the user guide (Markdown), the API reference from the docstrings
(numpydoc) and the gallery of ``examples/`` (sphinx-gallery), with the PyData theme.

``make docs`` builds it into ``docs/_build/html``, warnings as errors, running every example
in full, so the gallery shows what the examples really give (minutes); ``make test`` builds
it without running them (``-D plot_gallery=0``), since the tests run every example already
in quick mode. A build with ``ENSEMBLEKIT_QUICK=1`` set shows quick runs, and their figures
say so in their titles.
"""

import importlib
import os
import pkgutil
import sys
import warnings
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

import ensemblekit

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))  # the gallery's scraper, _quick_note.py

project = "ensemblekit"
author = "ensemblekit developers"
copyright = "ensemblekit developers"
version = release = ensemblekit.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py", "**.zip"]
templates_path = ["_templates"]

autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]

# The gallery shows what a reader would see: a warning names the example's file, not where
# this machine keeps it.
def _warning_line(message, category, filename, lineno, line=None):
    return f"{Path(filename).name}:{lineno}: {category.__name__}: {message}\n"


warnings.formatwarning = _warning_line

# The examples save their figures here rather than next to the scripts.
os.environ.setdefault("ENSEMBLEKIT_FIGURES", str(HERE / "_build" / "example_figures"))
os.environ.setdefault("MPLBACKEND", "Agg")

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/[^_][^/]*\.py$",
    "ignore_pattern": r"^_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "within_subsection_order": "FileNameSortKey",
    # Not the value of a script's last line.
    "capture_repr": (),
    # matplotlib's; a quick build's figures say so in their titles.
    "image_scrapers": ("_quick_note.scraper",),
}

html_theme = "pydata_sphinx_theme"
html_title = f"ensemblekit {version}"
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 6,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_static_path = []
# The guide's pages have no section to navigate: give their tables the width. The API
# reference and the gallery keep their sidebars.
html_sidebars = {"*": []}
html_show_sourcelink = False


def _skip_foreign_members(app, what, name, obj, skip, options):
    """A class page lists the methods and properties ensemblekit defines, its private base
    classes' included; those of scikit-learn, skorch and torch (``get_params``, the
    ``set_*_request`` methods, ``forward``) are documented by those packages."""
    if what != "class":
        return None
    function = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj
    return None if (getattr(function, "__module__", None) or "").startswith("ensemblekit") else True


def _doc_comment_of_reexported_data(app, what, name, obj, options, lines):
    """A public constant (``scorers``, ``MAX_SEED``) is defined in a private module, with a
    ``#:`` comment there; autodoc reads comments in the public package only."""
    if what != "data" or getattr(obj, "__doc__", None) != type(obj).__doc__:
        return  # not data, or data with a docstring of its own, not its type's
    package, attribute = name.rsplit(".", 1)
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        found = ModuleAnalyzer.for_module(f"{package}.{module.name}").find_attr_docs()
        if ("", attribute) in found:
            lines[:] = found["", attribute]
            return


def setup(app):
    # Before numpydoc (priority 500), which formats what this finds.
    app.connect("autodoc-process-docstring", _doc_comment_of_reexported_data, priority=400)
    app.connect("autodoc-skip-member", _skip_foreign_members)
