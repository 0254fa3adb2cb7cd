"""When the caller's turn ends: pure rules, voice activity (energy, Silero) and the Smart Turn model."""
