"""The width x lambda study of Wu et al. (2021): TRADES and generalized adversarial training over widths x robust
weights lambda, then WAR (Width Adjusted Regularization). :mod:`.study` (``python -m rfrobust.study
width_lambda``), :mod:`.config` (study configuration, sweep specs), :mod:`.tables` (the exported tables and their
schema, WAR's zeta, Tables 1 and 3), :mod:`.markdown` (their Markdown and the headline answers), :mod:`.figures`,
``specs/`` (one configuration per scale)."""
