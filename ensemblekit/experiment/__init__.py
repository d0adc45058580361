"""Studies described in a file or in Python: run, resume, report; the ``ensemblekit`` CLI."""

from ._checker import StudyError
from ._experiment import Experiment, StudyChangedError
from ._records import RunResults, load_run
from ._schema import RunFolderError

__all__ = [
    "Experiment",
    "RunFolderError",
    "RunResults",
    "StudyChangedError",
    "StudyError",
    "load_run",
]
