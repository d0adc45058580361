"""``python -m ensemblekit``: the ``ensemblekit`` command line."""

import os
import sys

# ``python -m`` puts the working directory first on the import path. The classes a study
# file names come from installed packages, never from a folder that may hold a planted
# ``imblearn/`` or ``sklearn.py``: drop it, as the ``ensemblekit`` script has it.
if sys.path and not sys.flags.safe_path and os.path.abspath(sys.path[0] or ".") == os.getcwd():
    del sys.path[0]

from ensemblekit.experiment._cli import main

sys.exit(main())
