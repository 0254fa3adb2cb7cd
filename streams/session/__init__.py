"""One live call: its lifecycle, commands, transfers to people, playing files and speaking."""
