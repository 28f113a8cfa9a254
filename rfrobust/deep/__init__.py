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
* :mod:`rfrobust.deep.curve_runs` -- sweep kind: train once, evaluate the curves (capacity study, seed 000; MLPs of
  seed 001).
* :mod:`rfrobust.deep.universal_law` -- sweep kind: seed 001's random-data experiment (nets of about n and n d
  parameters fitted to random labels; max input-gradient norm over random inputs).
* :mod:`rfrobust.deep.experiments` -- plumbing of the experiment drivers in ``simulations/``.
* :mod:`rfrobust.deep.width_lambda` -- the width x lambda study of Wu et al. (seed 004): study configuration,
  sweep specs, WAR's zeta from the thin network, Tables 1 and 3, and the schema of the exported CSVs;
  :mod:`rfrobust.deep.width_lambda_report` -- their Markdown and the headline answers.

The command line is ``python -m rfrobust.train`` (:mod:`rfrobust.train`).
"""
