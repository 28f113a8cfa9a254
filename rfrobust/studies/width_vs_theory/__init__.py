"""Cross-validation of the layers: the RF theory's answers to the width questions next to the networks' answers.

* :mod:`rfrobust.crossval.verdict`     -- trend directions and agree / disagree / inconclusive verdicts;
* :mod:`rfrobust.crossval.rf_answers`  -- the theory's answers (sensitivity, best robust weight, WAR in theory);
* :mod:`rfrobust.crossval.deep_tables` -- the networks' answers from the width x lambda study's CSV tables;
* :mod:`rfrobust.crossval.rf_check`    -- finite-size simulation check of the theory's training-loss components.

The report itself is ``python validation/width_vs_theory.py`` (README "Cross-validation: width vs theory").
Importing this package imports neither torch nor cupy.
"""
