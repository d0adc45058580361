"""A run folder as a store: the study it ran, one record per finished fold or analysis.

Every record is written whole or not at all (a temporary file made in the same folder,
flushed to disk, then renamed over the record's name), so a run killed at any moment leaves
only complete records and, at worst, a temporary file the next run removes. One run writes
a folder at a time (a lock the system releases when its process ends, however it ends), and
no write follows a symbolic link: what a run or a report writes stays inside the folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import stat
import sys
from pathlib import Path

import numpy as np

from ._kit import RunFolderError
from ._schema import check_analysis_record, check_fold_record, check_study

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one writer per folder is not enforced
    fcntl = None

STUDY_FILE = "study.json"
RECORDS = "records"
LOCK_FILE = ".lock"
#: The largest ``study.json`` and record a run folder may hold. A study's record is a few
#: kilobytes; a fold's record grows with its test rows (about 60 bytes a row and class, so
#: 256 MiB holds a million test rows of four classes). Larger files are refused unread.
MAX_STUDY_BYTES = 8 * 2**20
MAX_RECORD_BYTES = 256 * 2**20


def digest(*parts) -> str:
    """A short, stable hash of arrays and JSON-able values."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            part = np.ascontiguousarray(part)
            h.update(f"{part.dtype.str}{part.shape}".encode())
            h.update(part.tobytes() if part.dtype.kind != "O" else repr(part.tolist()).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=repr).encode())
        h.update(b"\0")
    return h.hexdigest()[:20]


_LINK = (
    "is a symbolic link: the files and folders of a run folder are never links, so that "
    "nothing a run or a report writes lands outside it. Remove the link, or use a new folder."
)


def write_atomic(target: Path, text: str) -> None:
    """Write ``text`` at ``target``, whole or not at all, never through a symbolic link.

    The temporary file is made new in the target's folder (``O_EXCL`` opens no existing
    name or link; its mode is the one ``open`` gives, as the umask says) and renamed over
    ``target``, which replaces the name itself.
    """
    target = Path(target)
    if target.is_symlink():
        raise RunFolderError(target, _LINK)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    while True:
        temporary = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            handle = os.open(temporary, flags, 0o666)
            break
        except FileExistsError:
            continue
    try:
        with open(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _check_own_file(handle: int, path: Path) -> None:
    """Refuse to write through ``handle`` unless it is a plain file with one name, owned
    by this user: a hard link would carry the write to a file outside the folder."""
    info = os.fstat(handle)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        raise RunFolderError(
            path,
            "is a hard link or not a plain file: a run writes only files of its own folder, "
            "so it does not write here. Remove it, or use a new folder.",
        )
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise RunFolderError(
            path, f"belongs to another user (uid {info.st_uid}): remove it, or use a new folder."
        )


def _listing(folder: Path) -> list[str]:
    """The names in ``folder`` but the hidden ones (temporary files); none if missing."""
    return sorted(n for n in os.listdir(folder) if not n.startswith(".")) if folder.is_dir() else []


class RunFolder:
    """The files of one run: ``study.json`` and ``records/``, and the folder's lock."""

    def __init__(self, path):
        self.path = Path(path)

    def inside(self, relative: str) -> Path:
        """The path of ``relative`` in the folder, refusing a symbolic link on the way."""
        target = self.path
        for part in Path(relative).parts:
            target = target / part
            if target.is_symlink():
                raise RunFolderError(target, _LINK)
        return target

    def write(self, relative: str, data: dict) -> None:
        """Write ``data`` as JSON at ``relative``, whole or not at all."""
        target = self.inside(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, json.dumps(data))

    def read(self, relative: str):
        """The JSON at ``relative`` (None if there is no such file)."""
        target = self.inside(relative)
        if not target.is_file():
            return None
        limit = MAX_STUDY_BYTES if relative == STUDY_FILE else MAX_RECORD_BYTES
        try:
            with open(target, encoding="utf-8") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size > limit:
                    raise RunFolderError(
                        target,
                        f"holds {size / 2**20:.0f} MiB, more than a run writes there (at most "
                        f"{limit // 2**20} MiB): it is not read. Remove it, or rerun the study.",
                    )
                return json.load(handle)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            message = f"is not a record a run writes (not JSON: {error})."
            raise RunFolderError(target, message) from None

    def study(self) -> dict | None:
        """``study.json``, checked (None in a folder no run has written)."""
        study = self.read(STUDY_FILE)
        return None if study is None else check_study(study, self.path / STUDY_FILE)

    def _records(self, kind: str) -> list[str]:
        """The records under ``records/<kind>`` (a folder per model for the folds):
        relative paths, in order; a link among them is refused, never skipped."""
        top = self.inside(f"{RECORDS}/{kind}")
        folders = [top] if kind == "analyses" else [top / name for name in _listing(top)]
        out = []
        for folder in folders:
            if folder.is_symlink():
                raise RunFolderError(folder, _LINK)
            for name in _listing(folder):
                file = folder / name
                if file.is_symlink():
                    raise RunFolderError(file, _LINK)
                if name.endswith(".json") and file.is_file():
                    out.append(str(file.relative_to(self.path)))
        return sorted(out)

    def fold_records(self, study: dict) -> dict:
        """``{(model, fold): record}`` of every finished fold, each checked."""
        out = {}
        for relative in self._records("folds"):
            record = check_fold_record(self.read(relative), self.path / relative, study)
            if relative != fold_path(record["model"], record["fold"]):
                raise RunFolderError(
                    self.path / relative,
                    f"holds the record of model {record['model']!r}, fold {record['fold']}, "
                    "under another name.",
                )
            out[record["model"], record["fold"]] = record
        return out

    def analysis_records(self, study: dict) -> dict:
        """``{kind: (record, result)}`` of every analysis recorded, each checked."""
        out = {}
        for relative in self._records("analyses"):
            record = self.read(relative)
            result = check_analysis_record(record, self.path / relative, study)
            out[record["kind"]] = record, result
        return out

    @contextlib.contextmanager
    def lock(self, *, wait: bool = True):
        """Hold the folder for one writer: wait for (or, without ``wait``, refuse) a folder
        another process writes. The system releases the lock when its process ends, so
        one left by a killed run never blocks."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(self.path, "is a file, not a run folder: give a folder.")
        self.path.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            handle = os.open(self.inside(LOCK_FILE), flags, 0o644)
        except OSError as error:
            raise RunFolderError(self.path / LOCK_FILE, f"cannot be opened: {error}") from None
        try:
            _check_own_file(handle, self.path / LOCK_FILE)
            if fcntl is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    holder = os.pread(handle, 32, 0).decode(errors="replace").strip() or "?"
                    busy = f"run folder {str(self.path)!r} in use by pid {holder}"
                    if not wait:
                        raise RunFolderError(
                            self.path, f"in use by pid {holder}: wait for that run to end."
                        ) from None
                    print(f"{busy}; waiting, Ctrl-C to stop", file=sys.stderr, flush=True)
                    fcntl.flock(handle, fcntl.LOCK_EX)
            os.ftruncate(handle, 0)
            os.pwrite(handle, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(handle)  # releases the lock

    def clean(self, *, records: bool = False) -> None:
        """Remove what a killed run left half-written (and every record, with ``records``).

        Call it holding the lock: the temporary files are then those of runs that died."""
        top = self.inside(RECORDS)
        if records and top.is_dir():
            shutil.rmtree(top)
        leftovers = list(self.path.glob(f".{STUDY_FILE}.*.tmp"))
        for folder, _, files in os.walk(top):  # never into a linked folder
            leftovers += [Path(folder, n) for n in files if n[0] == "." and n.endswith(".tmp")]
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)


def fold_path(model: str, fold: int) -> str:
    return f"{RECORDS}/folds/{model}/{fold:04d}.json"


def analysis_path(kind: str) -> str:
    return f"{RECORDS}/analyses/{kind}.json"
