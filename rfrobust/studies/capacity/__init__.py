"""The capacity study (Borji 2022; Madry et al. 2018): standard and robust accuracy of the 26 NetTest CNNs against
their parameter count. :mod:`.study` (the study: ``python -m rfrobust.study capacity``), :mod:`.report` (figures,
statistics, report), ``specs/`` (the sweep specs, one per data set and scale). Its sweep kind is ``train_curves``
(:mod:`rfrobust.studies.curve_runs`)."""
