"""Studies described in a file or in Python: run, resume, report; the ``ensemblekit`` CLI."""

from ._experiment import Experiment, StudyChangedError
from ._records import RunResults, load_run
from ._schema import RunFolderError
from ._study import StudyError

__all__ = [
    "Experiment",
    "RunFolderError",
    "RunResults",
    "StudyChangedError",
    "StudyError",
    "load_run",
]
