"""Runtime plumbing: settings, the bus, embedded servers, the database schema."""
