"""Asymptotic theory of random-features regression under ridge and adversarial training.

Everything here is formulas evaluated to machine precision (docs/theory.md; each docstring cites its section):

* :func:`mm_closed_form`, :func:`mm_spectral`, :func:`ridge_grad_norm` -- Mei--Montanari ridge test error
  (closed form and spectral form) and the ridge input-gradient norm G0 (docs/theory.md#mm-closed-form to
  #ridge-grad-norm);
* :func:`solve_point`, :func:`theory_grid`, :func:`run_record` -- adversarially trained RF with robust weight
  ``kappa`` (docs/theory.md#adv, #kappa): SE, R, AE, G, ||a||^2, T, training loss, eps0;
* :mod:`rfrobust.theory.linear` -- linear-regression cases (docs/theory.md#linear) on general discrete spectra.

Command line: ``python -m rfrobust.theory --psi1 0.5,1,2 --eps 0.5``.
"""

from rfrobust.theory.adversarial import run_record, solve_point, theory_grid
from rfrobust.theory.mm import DivergenceWarning, mm_closed_form, mm_spectral, ridge_grad_norm

__all__ = [
    "solve_point",
    "theory_grid",
    "mm_closed_form",
    "mm_spectral",
    "ridge_grad_norm",
    "run_record",
    "DivergenceWarning",
]
