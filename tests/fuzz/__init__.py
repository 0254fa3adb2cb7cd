"""Generated input against every parser and route (see tests/README.md)."""
