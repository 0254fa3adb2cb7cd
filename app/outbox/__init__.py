"""Outgoing webhooks about calls (#23.2): ``payload`` (what call.ended and transfer.* say), ``delivery``
(the greenlet that sends the outbox's rows, signed and retried), ``recordings`` (the signed recording URL)."""
