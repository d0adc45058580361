"""Warnings about how a fit went (it diverged, it did not converge), given once per fit.

A net warns when its own fit ends. Inside an ensemble, K members would give K warnings of
one kind: the member engine defers them instead and gives one per kind, counting the
members affected. A diagnostic that judges fits itself (``sanity_check``) defers them too
and keeps them out of the user's way. Deferring uses a context variable, not the
process-wide warning filters, so fits in other threads are not affected.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import NamedTuple

#: An epoch whose training loss is above this many times the chance loss has diverged.
DIVERGENCE_FACTOR = 10.0


class FitNote(NamedTuple):
    """A warning a fit deferred: who gave it (``id`` of the estimator), its category and
    its message."""

    owner: int
    category: type[Warning]
    message: str


_deferred: contextvars.ContextVar[list[FitNote] | None] = contextvars.ContextVar(
    "deferred_fit_warnings", default=None
)


@contextlib.contextmanager
def deferred_warnings() -> Iterator[list[FitNote]]:
    """Collect the fit warnings given in this context (this thread, this task) in a list
    instead of warning."""
    notes: list[FitNote] = []
    token = _deferred.set(notes)
    try:
        yield notes
    finally:
        _deferred.reset(token)


#: Packages whose frames stand between a user's call and a warning about it: the warning
#: points at the first frame outside them (``fit`` runs inside scikit-learn's and skorch's
#: wrappers, at a depth a fixed ``stacklevel`` cannot know).
_LIBRARIES = ("ensemblekit", "sklearn", "skorch", "joblib", "torch")


def _library_dirs() -> tuple[str, ...]:
    return tuple(
        os.path.dirname(sys.modules[name].__file__) + os.sep
        for name in _LIBRARIES
        if getattr(sys.modules.get(name), "__file__", None)
    )


def user_stacklevel() -> int:
    """The ``stacklevel`` for a warning given by the caller of this function that points
    at the first frame outside ensemblekit, scikit-learn, skorch and joblib: the user's
    line."""
    libraries = _library_dirs()
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(libraries):
        frame, level = frame.f_back, level + 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the user's line (see :func:`user_stacklevel`)."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


def warn_fit(owner, message: str, category: type[Warning]) -> None:
    """Warn about ``owner``'s fit now, or leave it to whoever collects (see above)."""
    notes = _deferred.get()
    if notes is None:
        warnings.warn(message, category, stacklevel=user_stacklevel())
    else:
        notes.append(FitNote(id(owner), category, message))


def warn_for_members(owner, notes_by_member: Sequence[Sequence[FitNote]]) -> None:
    """One warning per category for a fit of many members: how many gave it, and the
    first one's message. ``notes_by_member[i]`` holds member ``i``'s notes."""
    n = len(notes_by_member)
    affected: dict[type[Warning], list[str]] = {}
    for notes in notes_by_member:
        seen = set()
        for note in notes:
            if note.category not in seen:
                seen.add(note.category)
                affected.setdefault(note.category, []).append(note.message)
    for category, messages in affected.items():
        if n == 1:
            warn_fit(owner, messages[0], category)
        else:
            first = "; the first: " if len(messages) > 1 else ": "
            warn_fit(owner, f"{len(messages)} of {n} members{first}{messages[0]}", category)
