"""Deep adversarial training of real networks of growing width: the toolkit the studies build on.

Modules (each imports torch itself; importing this package imports nothing heavy):

* :mod:`rfrobust.deep.config`     -- :class:`~rfrobust.deep.config.TrainConfig`, every parameter of a run declared
  once (bounds, choices, help; the CLI and the train sweep kind's schema come from it).
* :mod:`rfrobust.deep.data`       -- Fashion-MNIST / MNIST (IDX), CIFAR-10/100 (python batches, safe unpickler),
  synthetic data written in those same formats, tasks on a subset of the classes (``--classes 0,6``,
  ``upper-body``), seeded train/validation split, batches in [0, 1].
* :mod:`rfrobust.deep.models`     -- ``nettest-F-I`` (Borji 2022, appendix A), ``mlp-small`` / ``mlp-large`` /
  ``mlp-H``, ``wrn-DEPTH-K`` (WideResNet), ``densenet-bc-DEPTH-K``; normalisation inside the model, activation from
  :mod:`rfrobust.activations`.
* :mod:`rfrobust.deep.attacks`    -- the :class:`~rfrobust.deep.attacks.Attack` classes on one PGD loop: FGSM, PGD
  (l_inf / l_2, random start, restarts, per-sample worst case), the TRADES KL inner attack (official start), white
  Gaussian noise; :class:`~rfrobust.deep.attacks.AttackConfig` records every setting; a registry for new attacks.
* :mod:`rfrobust.deep.objectives` -- the training objectives (standard, PGD-AT of Madry et al., generalized AT of Wu
  et al. eq. 1.1 with the clipping of appendix D, TRADES), each with its inner attack, loss and default lambda; a
  registry for new ones. :mod:`rfrobust.deep.losses` keeps the loss functions.
* :mod:`rfrobust.deep.war`        -- lambda controllers: a constant lambda, and Width Adjusted Regularization (Wu et
  al. Algorithm 1), which wraps any objective with a lambda.
* :mod:`rfrobust.deep.recipes`    -- weight decay and learning-rate schedule per method and data set: the authors'
  official settings (default) or rfrobust 0.1's, with their sources recorded.
* :mod:`rfrobust.deep.train`      -- one run: build -> fit (epoch loop with callbacks: validation, log, best-state
  selection, checkpoints) -> evaluate -> record; checkpoints that load with ``weights_only=True``.
* :mod:`rfrobust.deep.metrics`    -- natural accuracy, robust accuracy, perturbation stability (on predictions, Wu
  et al.; and on the true label) and the local Lipschitz estimates from one attack pass (Wu et al. sections 3 and
  4.1).
* :mod:`rfrobust.deep.evaluation` -- the evaluation attack panel (``--eval-attacks``: ours and the AutoAttack family
  from ``pyautoattack``), ``robust_acc_<name>`` and the per-example worst case; the panel on a stored checkpoint.
* :mod:`rfrobust.deep.checks`     -- attack sanity checks callable on any run.
* :mod:`rfrobust.deep.curves`     -- accuracy along a grid of FGSM / PGD / noise radii from one trained network
  (independent radii, or the nested worst case with early-stopped PGD).

The studies built on this toolkit (capacity, universal law, width x lambda, and the evaluation phase they share) live
in :mod:`rfrobust.studies`. The command line is ``python -m rfrobust.train`` (:mod:`rfrobust.train`).
"""
