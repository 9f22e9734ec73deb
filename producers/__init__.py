"""What puts events on the bus from outside: request publisher, traffic simulator, labels, webhook receivers."""
