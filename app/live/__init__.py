"""A live call's side of the app: the stream socket endpoint, opening a call, voice wiring, warm-up, media fetching."""
