"""rfrobust: how network width affects robustness under adversarial training.

Three layers of evidence sharing one vocabulary (``psi1 = N/d``, ``psi2 = n/d``, ``lam``, ``eps``,
``kappa``, ``act``, ``F1``, ``Fstar``, ``tau``) and one result schema:

* :mod:`rfrobust.theory`  -- asymptotic formulas (Mei--Montanari ridge; derived adversarial theory),
* :mod:`rfrobust.rf`      -- finite-size random-features simulation on numpy / torch / cupy,
* :mod:`rfrobust.deep`    -- adversarial training of real networks of growing width.

Importing :mod:`rfrobust` imports neither torch nor cupy.
"""

from rfrobust._version import __version__
from rfrobust.errors import ConvergenceError, InputError

__all__ = ["__version__", "ConvergenceError", "InputError"]
