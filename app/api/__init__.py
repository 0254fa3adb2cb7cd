"""The REST API under /api/v1: views, commanding a live call, how a stored call is shown, request schemas."""
