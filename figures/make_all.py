"""Every figure from the sweep stores: ``python figures/make_all.py [options]`` is ``python -m rfrobust.figures``
(the figure modules are in ``rfrobust/figures/``; the studies' figures come with ``python -m rfrobust.study``)."""

import sys

from rfrobust.cli import run_main
from rfrobust.figures.make_all import main

if __name__ == "__main__":
    sys.exit(run_main(main, prog="python figures/make_all.py"))
