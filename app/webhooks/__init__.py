"""The webhooks the Piopiy platform calls: answer, call events, DTMF input; and a transfer's ring to its call."""
