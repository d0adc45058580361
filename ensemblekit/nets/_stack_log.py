"""The epochs of stacked members that print theirs (``verbose=1``), as one table: a
``member`` column, the header once, one row per member and epoch, never interleaved."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from itertools import cycle

from skorch.callbacks import PrintLog
from skorch.callbacks.logging import filter_log_keys
from skorch.utils import Ansi
from tabulate import tabulate


def quiet(*args, **kwargs) -> None:
    """A sink for skorch callbacks when the net is silent."""


def echo(*args, sep: str = " ", end: str = "\n", file=None, flush: bool = False) -> None:
    """``print`` for the net's callbacks, through tqdm: a progress bar on the terminal is
    cleared for the line and drawn again below it, rather than sharing it. Module-level
    and found when called: a net holding ``builtins.print`` no longer pickles once another
    package replaces it (Ray's ``ray.shutdown()`` does), as pickle finds it by name."""
    from tqdm.auto import tqdm

    tqdm.write(sep.join(map(str, args)), file=sys.stdout if file is None else file, end=end)


# The colours skorch's table gives its columns in turn (a best value is shown in its
# column's colour).
_COLOURS = [colour.value for colour in Ansi if colour is not Ansi.ENDC]


class StackLog:
    """The printing members of a stack (``numbers``: each one's number in the whole
    fit), whose own epoch tables stay silent while ``muted``; ``epoch(members)`` prints
    the rows of the epoch that just ended, through the first member's sink."""

    def __init__(self, members: list, numbers: list[int]):
        self.logs = {}  # id(member): (its number, its PrintLog, the sink it had)
        for member, number in zip(members, numbers, strict=True):
            for _, callback in member.callbacks_:
                sink = getattr(callback, "sink", quiet)
                if isinstance(callback, PrintLog) and sink is not quiet:
                    if sink is not print or member.verbose:  # skorch's own rule
                        self.logs[id(member)] = (number, callback, sink)
                        break
        self.header = True

    @contextlib.contextmanager
    def muted(self) -> Iterator[StackLog]:
        """The members' own tables print nothing inside (their sinks are put back)."""
        for _, callback, _ in self.logs.values():
            callback.sink = quiet
        try:
            yield self
        finally:
            for _, callback, sink in self.logs.values():
                callback.sink = sink

    def epoch(self, members: list) -> None:
        printing = [(self.logs[id(m)], m.history[-1]) for m in members if id(m) in self.logs]
        if not printing:
            return
        (_, log, sink), first = printing[0]
        keys = _columns(log, first)
        rows = []
        for (number, member_log, _), row in printing:
            row = {key: row.get(key) for key in row.keys() | set(keys)}
            cells = (member_log.format_row(row, key, c) for key, c in zip(keys, cycle(_COLOURS)))
            rows.append([number, *cells])
        headers = ["member", *(key.removeprefix("event_") for key in keys)]
        lines = tabulate(
            rows, headers=headers, tablefmt=log.tablefmt, floatfmt=log.floatfmt,
            stralign=log.stralign,
        ).split("\n")  # fmt: skip
        for line in lines if self.header else lines[2:]:  # the header and its rule, once
            sink(line)
        self.header = False


def _columns(log: PrintLog, row: dict) -> list[str]:
    """The columns skorch's table shows for ``row``, in its order: the epoch, the other
    values, its events, the duration."""
    ignored = log.keys_ignored_
    shown = [key for key in filter_log_keys(sorted(row), keys_ignored=ignored) if key != "dur"]
    events = [key for key in sorted(row) if key.startswith("event_") and key not in ignored]
    epoch, dur = ([key] if key in row and key not in ignored else [] for key in ("epoch", "dur"))
    return [*epoch, *shown, *events, *dur]
