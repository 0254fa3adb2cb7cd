"""Hearing, deciding and answering: the voice pipeline and the call port it speaks through; never link/ or session/."""
