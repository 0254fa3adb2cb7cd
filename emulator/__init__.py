"""A local emulator of the Piopiy platform: REST API, answer webhooks, stream sockets, CDRs."""
