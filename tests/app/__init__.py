"""Tier 2: the Flask app through its test client (see tests/README.md)."""
