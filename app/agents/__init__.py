"""Agents: the files that say who answers a dialled number and how (book), and the lines they default to."""
