"""``python -m rfrobust.figures``: every figure from the stores (:mod:`rfrobust.figures.make_all`)."""

import sys

from rfrobust.cli import run_main
from rfrobust.figures.make_all import PROG, main

if __name__ == "__main__":
    sys.exit(run_main(main, prog=PROG))
