"""Integration tests of the deep toolkit: the training CLI in a child process, agreement with ART, real training."""
