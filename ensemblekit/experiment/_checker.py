"""How a study file's errors are told: each at its key and, in the file, its line."""

from __future__ import annotations

import difflib
import re
from numbers import Integral, Real

from ._trust import check_trust


class StudyError(ValueError):
    """A study that cannot run, found before any fit: the key, its line and the fix.

    Parameters
    ----------
    key : str
        The dotted key at fault (``models.net.max_epochs``); empty for the whole study.
    message : str
        What is wrong, and the fix.
    line : int or None, default=None
        Its line in the study file (None for a study built in Python).
    file : str or None, default=None
        The study file.

    Attributes
    ----------
    key, message, line, file
        As given.

    See Also
    --------
    Experiment.from_toml : the reader that raises it.
    StudyChangedError : a folder that holds another study.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.dummy import DummyClassifier
    >>> from ensemblekit.experiment import Experiment, StudyError
    >>> X, y = load_iris(return_X_y=True)
    >>> try:
    ...     Experiment({"prior": DummyClassifier()}, X, y, scoring="acuracy")
    ... except StudyError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    scoring[0]: 'acuracy' is not a scorer name; did you mean 'accuracy'? ...
    """

    def __init__(self, key: str, message: str, *, line: int | None = None, file=None):
        self.key, self.message, self.line, self.file = key, message, line, file
        where = ", ".join(part for part in (file and str(file), line and f"line {line}") if part)
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{key + ': ' if key else ''}{message}")


def key_of(path) -> str:
    """``("models", "bag", "pipeline", 1)`` as ``models.bag.pipeline[1]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' * bool(out)}{part}"
    return out


class Locator:
    """Lines of a TOML text's keys: the standard library's reader gives none.

    Table headers (``[models.net]``) and ``key = value`` lines are indexed by their full
    dotted path; a deeper key (inside an inline table or an array) takes the line of its
    nearest indexed parent.
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*=")

    def __init__(self, text: str):
        self.lines: dict[tuple, int] = {}
        table: tuple = ()
        for number, line in enumerate(text.splitlines(), start=1):
            if header := self._HEADER.match(line):
                table = self._parts(header.group(1))
                self.lines.setdefault(table, number)
            elif key := self._KEY.match(line):
                self.lines.setdefault(table + self._parts(key.group(1)), number)

    @staticmethod
    def _parts(dotted: str) -> tuple:
        return tuple(part.strip().strip("\"'") for part in dotted.split("."))

    def line(self, path) -> int | None:
        names = tuple(part for part in path if not isinstance(part, int))
        for end in range(len(names), 0, -1):
            if names[:end] in self.lines:
                return self.lines[names[:end]]
        return None


class Checker:
    """Raises :class:`StudyError` at a key, with its line when the study came from a file;
    ``trust`` holds the modules the person running the study lets it name, and ``task``
    ("classification", "regression" or None while unknown) the study's, for hints."""

    def __init__(self, locator: Locator | None = None, file=None, trust=()):
        self.locator, self.file, self.trust = locator, file, check_trust(trust)
        self.task: str | None = None

    def fail(self, path, message: str):
        line = None if self.locator is None else self.locator.line(path)
        raise StudyError(key_of(path), message, line=line, file=self.file)

    def locate(self, error: StudyError) -> StudyError:
        """``error``, raised by a check that knew no file, with this file's line."""
        path = tuple(part for part in re.split(r"[.\[\]]", error.key) if part)
        line = None if self.locator is None else self.locator.line(path)
        return StudyError(error.key, error.message, line=line, file=self.file)

    def keys(self, table, path, allowed, *, what: str) -> None:
        """Unknown keys of ``table`` fail, with the closest allowed one."""
        if not isinstance(table, dict):
            self.fail(path, f"must be a table of {what}, got {table!r:.60}.")
        for key in table:
            if key not in allowed:
                self.fail((*path, key), f"is not a key of {what}; {_hint(key, allowed)}")

    def choice(self, value, path, options) -> None:
        if value not in options:
            self.fail(path, f"must be one of {list(options)}, got {value!r}.")

    def number(self, value, path, low, high, *, integer: bool = False, closed=True) -> None:
        kind = Integral if integer else Real
        if isinstance(value, bool) or not isinstance(value, kind):
            self.fail(path, f"must be {'an integer' if integer else 'a number'}, got {value!r}.")
        above = value >= low if closed else value > low
        if not above or (high is not None and value > high):
            span = (
                f"[{low}, {high if high is not None else 'inf'})" if closed else f"({low}, {high})"
            )
            self.fail(path, f"must be in {span}, got {value!r}.")


def _hint(name: str, allowed) -> str:
    """ "did you mean ...?", or the names allowed (the first 12 of a long list)."""
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    names = sorted(str(a) for a in allowed)
    more = f" and {len(names) - 12} more" if len(names) > 12 else ""
    return f"the names it takes are {', '.join(names[:12])}{more}."
