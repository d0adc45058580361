"""``python -m ensemblekit``: the ``ensemblekit`` command line."""

import sys

from ensemblekit.experiment._cli import main

sys.exit(main())
