"""Model serving: the HTTP gateway and the bus worker."""
