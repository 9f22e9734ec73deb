"""Where a report is stored under reports_dir, by kind and id: the builder writes there, the page serves it, the
notifier links to it. Pure and import-light (the notifier's routing reads it)."""

from __future__ import annotations

KINDS = ("deployment", "drift", "incident")


def file_name(kind: str, ident: str) -> str:
    return f"{kind}-{ident}.pdf" if kind != "deployment" else f"deployment-v{ident}.pdf"


def relative_path(kind: str, ident: str) -> str:
    """The report's path under reports_dir, as the page serves it under /reports/."""
    return f"{kind}/{file_name(kind, ident)}"
