"""The drift and quality monitor: streaming detectors, windows, alerts with hysteresis, and its service adapter."""
