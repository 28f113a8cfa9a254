"""Unit tests of the deep toolkit on synthetic data: data readers, models, attacks, objectives, evaluation, training."""
