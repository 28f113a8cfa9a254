"""The figures of the theory and simulation layers, drawn from the sweep stores (never recomputed).

``python -m rfrobust.figures`` draws them all (:mod:`.make_all`); ``python -m rfrobust.figures.NAME`` draws one.
Each figure module defines ``NAME``, ``SPECS`` (its sweep specs, relative to ``simulations/``) and ``draw(data)``
(:mod:`.common`). :mod:`.classification` (``python -m rfrobust.figures.classification``) is apart: it draws the
classification decomposition from its record file (docs/theory_classification.md#cls-figure), not from a sweep
store. The studies draw their own figures (:mod:`rfrobust.studies`).
"""
