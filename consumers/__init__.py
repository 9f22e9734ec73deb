"""Stream processors: drift and quality monitor, audit projector, notifier, report builder."""
