"""The audit trail: projector (stream -> hash-chained PostgreSQL copy), verify, replay, rebuild."""
