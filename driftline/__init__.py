"""The composition root: the `driftline` command builds every service from one Settings object."""
