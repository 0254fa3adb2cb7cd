"""Tier 1: our modules alone, in-process (see tests/README.md)."""
