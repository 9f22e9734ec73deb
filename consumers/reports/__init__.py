"""Deployment, drift and incident reports: events and MLflow evidence -> Jinja2 HTML -> WeasyPrint PDF."""
