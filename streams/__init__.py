"""The stream WebSocket side: protocol, audio, per-call sessions, STT, TTS, dialogue."""
