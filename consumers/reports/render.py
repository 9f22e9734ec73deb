"""Jinja2 templates -> HTML -> PDF with WeasyPrint (CPU-bound: call from a worker thread)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from consumers.reports.names import KINDS

TEMPLATES = Path(__file__).parent / "templates"
__all__ = ["KINDS", "render_html", "render_pdf"]  # KINDS: the builder and the CLI read it here


def _num(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) >= 2:  # a count carried as a float: 179, not 179.0000
        return str(int(value))
    return f"{value:.{digits}f}"


def _signed(value) -> str:
    return "-" if value is None else f"{value:+.4f}"


def _dt(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _short(value) -> str:
    if isinstance(value, float):
        return _num(value)
    text = str(value)
    return text if len(text) <= 160 else text[:157] + "..."


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    env.filters.update(num=_num, signed=_signed, dt=_dt, short=_short)
    return env


def render_html(context: dict) -> str:
    kind = context["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    context = {"generated": datetime.now(UTC), "figures": [], "source_ids": [], **context}
    # Numbered in list order; the builders list figures in the order their sections appear.
    context["figures"] = [{"section": None, "half": False, **f, "number": i}
                          for i, f in enumerate(context["figures"], start=1)]
    return environment().get_template(f"{kind}.html.j2").render(**context)


def render_pdf(context: dict) -> bytes:
    """The report as PDF bytes."""
    from weasyprint import HTML

    return HTML(string=render_html(context), base_url=str(TEMPLATES)).write_pdf()
