"""The gallery's image scraper: matplotlib's, and in a build with ``ENSEMBLEKIT_QUICK=1``
every figure says in its title that it shows a quick run, not the example's result."""

import os

from sphinx_gallery.scrapers import matplotlib_scraper

QUICK_NOTE = "Quick mode (ENSEMBLEKIT_QUICK=1): a small run that checks the script, not its result"


def scraper(block, block_vars, gallery_conf, **kwargs):
    if os.environ.get("ENSEMBLEKIT_QUICK") == "1":
        import matplotlib.pyplot as plt

        for number in plt.get_fignums():
            fig = plt.figure(number)
            title = fig.get_suptitle()
            if QUICK_NOTE not in title:
                note = f"{title}\n{QUICK_NOTE}" if title else QUICK_NOTE
                fig.suptitle(note, color="C3", fontsize=9)
    return matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)
