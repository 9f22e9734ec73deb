"""Small server-rendered SVG line charts: one or more series over windows, an optional threshold line."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

COLOURS = ("#1f5fa8", "#c2571a", "#2e7d32", "#7b3fa0", "#8a6d00", "#00838f")


@dataclass
class Series:
    name: str
    values: list[float | None]
    marked: list[bool] = field(default_factory=list)  # points drawn as alarms (e.g. drifted windows)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_chart(title: str, series: list[Series], labels: list[str], *, threshold: float | None = None,
               width: int = 520, height: int = 170, css_class: str = "chart", threshold_label: str = "threshold") -> str:
    """An <svg> element as text; every piece of text in it is escaped."""
    pad_l, pad_r, pad_t, pad_b = 46, 12, 24, 28
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    values = [v for s in series for v in s.values if v is not None]
    if threshold is not None:
        values.append(threshold)
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    lo = min(lo, 0.0)
    if hi - lo < 1e-12:
        hi = lo + 1.0
    n = max((len(s.values) for s in series), default=0)

    def x(i: int) -> float:
        return pad_l + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - (v - lo) / (hi - lo))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<title>{escape(title)}</title>',
             f'<text x="{pad_l}" y="15" class="chart-title">{escape(title)}</text>',
             f'<line x1="{pad_l}" y1="{pad_t + plot_h}" x2="{pad_l + plot_w}" y2="{pad_t + plot_h}" class="axis"/>',
             f'<line x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{pad_t + plot_h}" class="axis"/>',
             f'<text x="{pad_l - 4}" y="{pad_t + 4}" class="tick" text-anchor="end">{_fmt(hi)}</text>',
             f'<text x="{pad_l - 4}" y="{pad_t + plot_h}" class="tick" text-anchor="end">{_fmt(lo)}</text>']
    if labels:
        parts.append(f'<text x="{pad_l}" y="{height - 8}" class="tick">{escape(labels[0])}</text>')
        parts.append(f'<text x="{pad_l + plot_w}" y="{height - 8}" class="tick" text-anchor="end">'
                     f'{escape(labels[-1])}</text>')
    if threshold is not None:
        ty = y(threshold)
        parts.append(f'<line x1="{pad_l}" y1="{ty:.1f}" x2="{pad_l + plot_w}" y2="{ty:.1f}" class="threshold"/>')
        parts.append(f'<text x="{pad_l + plot_w}" y="{ty - 3:.1f}" class="tick" text-anchor="end">'
                     f'{escape(threshold_label)} {_fmt(threshold)}</text>')
    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        points = [(x(i), y(v)) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for i, v in enumerate(s.values):
            if v is None:
                continue
            alarm = i < len(s.marked) and s.marked[i]
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{4 if alarm else 2.5}" '
                         f'class="{"alarm" if alarm else "point"}" fill="{colour}"><title>{escape(s.name)}: '
                         f'{_fmt(v)}</title></circle>')
        if len(series) > 1:
            parts.append(f'<text x="{pad_l + 6 + 110 * k}" y="{pad_t + 10}" class="legend" fill="{colour}">'
                         f'{escape(s.name)}</text>')
    if not values:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" class="tick" text-anchor="middle">no data yet</text>')
    parts.append("</svg>")
    return "".join(parts)
