"""Where the examples save their figures.

``python examples/plot_bagging_nets.py --figures DIR`` saves into DIR; otherwise the
``ENSEMBLEKIT_FIGURES`` environment variable names the folder; otherwise the figures go to
``examples/figures/``, next to the scripts. The folder is made if it is missing.
"""

import os
import sys
from pathlib import Path

QUICK_NOTE = "Quick mode (ENSEMBLEKIT_QUICK=1): a small run that checks the script, not its result"


def save(fig, name: str, **savefig_kwargs) -> Path:
    """Save ``fig`` as ``name`` in the figures folder, say where (relative to the current
    folder), and return the path. A figure of a quick run says so in its title."""
    folder = Path(os.environ.get("ENSEMBLEKIT_FIGURES", Path(__file__).parent / "figures"))
    if "--figures" in sys.argv[1:-1]:
        folder = Path(sys.argv[sys.argv.index("--figures") + 1])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if (
        os.environ.get("ENSEMBLEKIT_QUICK") == "1"
        and "quick mode" not in fig.get_suptitle().lower()
    ):
        title = fig.get_suptitle()
        fig.suptitle(f"{title}\n{QUICK_NOTE}" if title else QUICK_NOTE, color="C3", fontsize=9)
    fig.savefig(path, **savefig_kwargs)
    print(f"saved {os.path.relpath(path)}")
    return path
