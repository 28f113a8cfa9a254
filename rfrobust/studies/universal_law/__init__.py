"""The universal-law study (Bubeck & Sellke 2021, tested by fitting as in Barry's talk on the law): random-label
data fitted by two-layer nets of about n, 10 n and n d parameters (max input-gradient norm against d), and MLPs of
two sizes under FGSM and white noise. :mod:`.study` (``python -m rfrobust.study universal_law``), :mod:`.kind` (the
sweep kind ``random_fit``), :mod:`.report` (figures, statistics, report), ``specs/``."""
