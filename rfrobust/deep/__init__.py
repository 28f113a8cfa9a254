"""Deep adversarial training of real networks of growing width (issue 5; seeds 000, 001, 004).

Modules (each imports torch itself; importing this package imports nothing heavy):

* :mod:`rfrobust.deep.data`    -- Fashion-MNIST / MNIST (IDX), CIFAR-10/100 (python batches, safe unpickler),
  synthetic data written in those same formats, seeded train/validation split, batches in [0, 1].
* :mod:`rfrobust.deep.models`  -- ``nettest-F-I`` (Borji, appendix A), ``mlp-small`` / ``mlp-large`` / ``mlp-H``
  (seed 001), ``wrn-DEPTH-K`` (WideResNet), ``densenet-bc-40-K``; normalisation inside the model.
* :mod:`rfrobust.deep.attacks` -- FGSM, PGD (l_inf / l_2, random start, restarts, per-sample worst case),
  the TRADES KL inner attack, white Gaussian noise; :class:`AttackConfig` records every setting.
* :mod:`rfrobust.deep.losses`  -- standard, PGD-AT (Madry), generalized AT (Wu et al. eq. 1.1 + appendix D),
  TRADES.
* :mod:`rfrobust.deep.war`     -- Width Adjusted Regularization (Wu et al. Algorithm 1).
* :mod:`rfrobust.deep.train`   -- the training loop, learning-rate schedules, best/last checkpoints.
* :mod:`rfrobust.deep.metrics` -- natural accuracy, robust accuracy, perturbation stability and local Lipschitz
  estimate from one PGD pass (Wu et al. sections 3 and 4.1).
* :mod:`rfrobust.deep.checks`  -- attack sanity checks callable on any run.
* :mod:`rfrobust.deep.curves`  -- accuracy along a grid of FGSM / PGD / noise radii from one trained network
  (independent radii, or the nested worst case with early-stopped PGD).

The studies built on this toolkit (capacity, universal law, width x lambda) live in :mod:`rfrobust.studies`.
The command line is ``python -m rfrobust.train`` (:mod:`rfrobust.train`).
"""
