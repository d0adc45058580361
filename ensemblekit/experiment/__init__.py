"""Studies described in a file or in Python: run, resume, report; the ``ensemblekit`` CLI."""

from ._checker import StudyError
from ._experiment import Experiment, StudyChangedError
from ._kit import RunFolderError
from ._records import RunResults, load_run

__all__ = [
    "Experiment",
    "RunFolderError",
    "RunResults",
    "StudyChangedError",
    "StudyError",
    "load_run",
]
