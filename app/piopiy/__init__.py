"""The Piopiy platform: its REST client and time budget, the PCMO we answer with, signed stream URLs."""
