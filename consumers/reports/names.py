"""Where a report is stored under reports_dir, by kind and id: the builder writes there, the page serves it, the
notifier links to it. Pure and import-light (the notifier's routing reads it)."""

from __future__ import annotations

import re

KINDS = ("deployment", "drift", "incident")
# An id becomes part of a file name (and of an MLflow tag filter): letters, digits, '.', '_' and '-' only, not starting
# with a dot, so no "../", no separator and no quote ever reaches a path. Event ids (UUIDs) and versions fit.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class BadReportName(ValueError):
    """The id a report would be named after is not a safe file name."""


def file_name(kind: str, ident: str) -> str:
    """The report's file name; BadReportName for an unknown kind or an id that is no safe file name."""
    if kind not in KINDS:
        raise BadReportName(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    if not isinstance(ident, str) or not SAFE_NAME.fullmatch(ident) or ".." in ident:
        raise BadReportName(f"report id {str(ident)[:80]!r} is not a safe name: use letters, digits, '.', '_' and '-' "
                            "(an event id, a correlation id or a model version)")
    return f"{kind}-{ident}.pdf" if kind != "deployment" else f"deployment-v{ident}.pdf"


def relative_path(kind: str, ident: str) -> str:
    """The report's path under reports_dir, as the page serves it under /reports/."""
    return f"{kind}/{file_name(kind, ident)}"
