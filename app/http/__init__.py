"""Request plumbing every face shares: webhook-token and API-key guards, the body readers, security headers."""
