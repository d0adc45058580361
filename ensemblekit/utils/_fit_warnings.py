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
    """A warning a fit deferred: who gave it (``id`` of the estimator), its category, the
    first affected fit's own message and, for a model that fitted many (an ensemble's
    members, a cross-validation's folds), its name and how many of them gave it."""

    owner: int
    category: type[Warning]
    detail: str
    name: str = ""
    affected: int = 0
    total: int = 0
    noun: str = "members"

    @property
    def message(self) -> str:
        """The warning's text: ``detail``, after the model's name and count if it has them."""
        if self.total:
            first = "; the first: " if self.affected > 1 else ": "
            return (
                f"{self.name}: {self.affected} of {self.total} {self.noun} gave this "
                f"warning{first}{self.detail}"
            )
        return f"{self.name}: {self.detail}" if self.name else self.detail


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
    libraries = (*_library_dirs(), contextlib.__file__)  # with-blocks run in contextlib
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(libraries):
        frame, level = frame.f_back, level + 1
    return level


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` pointing at the user's line (see :func:`user_stacklevel`)."""
    warnings.warn(message, category, stacklevel=user_stacklevel())


def warn_fit(owner, message: str, category: type[Warning]) -> None:
    """Warn about ``owner``'s fit now, or leave it to whoever collects (see above)."""
    _give(FitNote(id(owner), category, message))


def _give(note: FitNote) -> None:
    notes = _deferred.get()
    if notes is None:
        warnings.warn(note.message, note.category, stacklevel=user_stacklevel())
    else:
        notes.append(note)


def model_name(estimator) -> str:
    """How a warning names a model: its class, a Pipeline by its steps' classes."""
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and all(isinstance(s, tuple) and len(s) == 2 for s in steps):
        return f"{type(estimator).__name__}({', '.join(type(s).__name__ for _, s in steps)})"
    return type(estimator).__name__


def warn_for_members(
    owner, notes_by_member: Sequence[Sequence[FitNote]], *, noun: str = "members"
) -> None:
    """One warning per category for a fit of many members: the model, how many of its
    members gave it, and the first one's own message (a member that is itself an
    ensemble passes on its first member's, so messages never nest).
    ``notes_by_member[i]`` holds member ``i``'s notes."""
    n = len(notes_by_member)
    affected: dict[type[Warning], list[FitNote]] = {}
    for notes in notes_by_member:
        seen = set()
        for note in notes:
            if note.category not in seen:
                seen.add(note.category)
                affected.setdefault(note.category, []).append(note)
    for category, notes in affected.items():
        if n == 1:
            _give(notes[0]._replace(owner=id(owner)))
        else:
            note = FitNote(id(owner), category, notes[0].detail, model_name(owner), len(notes), n)
            _give(note._replace(noun=noun))


def warn_again(
    notes: Sequence[FitNote], *, name: str | None = None, label: str | None = None,
    noun: str | None = None,
) -> None:  # fmt: skip
    """Give ``notes`` (deferred by the calls they came from) again, one per category: the
    model called ``name`` (an ensemble naming itself), or ``label`` as well (a study's or
    a comparison's name for it), and its fits ``noun``. Notes of one category from
    several calls (a CV ensemble's folds and its refit) are counted together."""
    by_category: dict[type[Warning], list[FitNote]] = {}
    for note in notes:
        by_category.setdefault(note.category, []).append(note)
    for same in by_category.values():
        note = same[0]
        if len(same) > 1:
            affected = sum(n.affected or 1 for n in same)
            note = note._replace(affected=affected, total=sum(n.total or 1 for n in same))
            noun = noun or "fits"
        named = name or note.name
        if label is not None:
            named = f"{label} ({named})" if named else label
        _give(note._replace(name=named, noun=noun or note.noun))


@contextlib.contextmanager
def warnings_of(
    name: str | None = None, *, label: str | None = None, noun: str | None = None
) -> Iterator[None]:
    """The fit warnings given inside, given once per category when the block ends (see
    :func:`warn_again`); none if it raises, since its error is what matters then."""
    with deferred_warnings() as notes:
        yield
    warn_again(notes, name=name, label=label, noun=noun)
