"""The approval web page."""
