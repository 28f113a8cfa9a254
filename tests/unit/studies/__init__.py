"""Unit tests of rfrobust.studies: tables, verdicts, kinds, configurations and the committed results."""
