"""The notifier: routes control events to email (with the PDF report) and Slack, signed, retried, recorded."""
