"""Unit tests of the documentation: README, docs site hooks, theory anchors, citation metadata."""
