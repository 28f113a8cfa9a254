"""The width-vs-theory study: the random-features theory's answers to the width questions next to the answers of
the networks of the width x lambda study, with a verdict per question (``python -m rfrobust.study
width_vs_theory``).

* :mod:`.study`       -- the study (options, paths);
* :mod:`.report`      -- the report: questions (a) sensitivity, (b) best weight, (c) WAR; figures; Markdown;
* :mod:`.verdict`     -- trend directions and agree / disagree / inconclusive verdicts;
* :mod:`.rf_answers`  -- the theory's answers (sensitivity, best robust weight, WAR in theory);
* :mod:`.deep_tables` -- the networks' answers from the width x lambda study's CSV tables;
* :mod:`.rf_check`    -- finite-size simulation check of the theory's training-loss components.

Importing this package imports neither torch nor cupy.
"""
