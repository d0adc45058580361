"""Where the examples save their figures.

``python examples/plot_bagging_nets.py --figures DIR`` saves into DIR; otherwise the
``ENSEMBLEKIT_FIGURES`` environment variable names the folder; otherwise the figures go to
``examples/figures/``, next to the scripts. The folder is made if it is missing.
"""

import os
import sys
from pathlib import Path


def save(fig, name: str, **savefig_kwargs) -> Path:
    """Save ``fig`` as ``name`` in the figures folder, say where, and return the path."""
    folder = Path(os.environ.get("ENSEMBLEKIT_FIGURES", Path(__file__).parent / "figures"))
    if "--figures" in sys.argv[1:-1]:
        folder = Path(sys.argv[sys.argv.index("--figures") + 1])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fig.savefig(path, **savefig_kwargs)
    print(f"saved {path}")
    return path
