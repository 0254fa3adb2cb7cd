"""What the comparisons with the Piopiy SDK (the test-only oracle, piopiy 1.2.2) build with, on both sides."""

WS = "wss://bot.example.test/stream/abc?sig=x"
URL = "https://media.example.test/hold.wav"
ACTION_URL = "https://bot.example.test/webhooks/piopiy/input/abc"
FROM = 919000000000
TO = 919876543210
