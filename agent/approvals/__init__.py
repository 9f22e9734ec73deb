"""The approvals owner: the only code that writes the `approvals` table.

Requests (the gate, a person on the page), decisions (page and terminal) and expiries all go through
`book`, which writes the row and the events it announces in one transaction (the outbox); the relay publishes.
"""
