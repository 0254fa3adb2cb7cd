"""One stream socket: reading frames, parsing messages, the one writer and its pacing, recording."""
