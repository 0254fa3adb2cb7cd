"""The blocking engines: vosk for speech to text, a pool of pyttsx3 worker processes for text to speech."""
