"""Server-rendered SVG charts over windows: lines (with shaded bands and labelled rules) or columns, one quantity
on one y axis with round ticks and its unit, time on the x axis. Text is escaped; no script, no inline style (the
page's CSP allows neither)."""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from ui.axes import Axis, time_labels

COLOURS = ("#1f5fa8", "#c2571a", "#2e7d32", "#7b3fa0", "#8a6d00", "#00838f")
PAD_L, PAD_R, PAD_T, PAD_B = 62, 58, 40, 30  # room for tick labels left, end labels right, title and legend on top


@dataclass
class Series:
    name: str
    values: list[float | None]
    marked: list[bool] = field(default_factory=list)  # points drawn as alarms (e.g. drifted windows)
    dashed: bool = False  # e.g. an estimate beside the realized value
    colour: str | None = None


@dataclass
class Band:
    """A shaded range per point, e.g. an estimate's interval or a running difference's confidence band."""

    name: str
    lower: list[float | None]
    upper: list[float | None]
    colour: str = COLOURS[0]


@dataclass
class Rule:
    """A horizontal line with its meaning written on it: a threshold, a reference level, a decision boundary."""

    value: float
    label: str
    css: str = "threshold"


class Frame:
    """The plot area of one chart: scales, axes, title and legend."""

    def __init__(self, title: str, axis: Axis, values: list[float], n: int, width: int, height: int,
                 columns: bool = False):
        self.width, self.height, self.n, self.columns = width, height, n, columns
        self.plot_w, self.plot_h = width - PAD_L - PAD_R, height - PAD_T - PAD_B
        self.axis = axis
        self.lo, self.hi, self.step = axis.span(values)
        self.parts = [f'<title>{escape(title)}</title>',
                      f'<text x="{PAD_L}" y="14" class="chart-title">{escape(title)}</text>']

    def x(self, i: float) -> float:
        if self.columns:  # the middle of column i
            return PAD_L + self.plot_w * (i + 0.5) / max(self.n, 1)
        return PAD_L + (self.plot_w * i / (self.n - 1) if self.n > 1 else self.plot_w / 2)

    def y(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return PAD_T + self.plot_h * (1 - (v - self.lo) / (self.hi - self.lo))

    def axes(self, labels: list[str]) -> None:
        bottom, p = PAD_T + self.plot_h, self.parts
        for tick in self.axis.ticks(self.lo, self.hi, self.step):
            ty = self.y(tick)
            p.append(f'<line x1="{PAD_L}" y1="{ty:.1f}" x2="{PAD_L + self.plot_w}" y2="{ty:.1f}" class="grid"/>')
            p.append(f'<text x="{PAD_L - 5}" y="{ty + 3.5:.1f}" class="tick" text-anchor="end">'
                     f'{escape(self.axis.text(tick, self.step))}</text>')
        p.append(f'<line x1="{PAD_L}" y1="{bottom}" x2="{PAD_L + self.plot_w}" y2="{bottom}" class="axis"/>')
        p.append(f'<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{bottom}" class="axis"/>')
        middle = PAD_T + self.plot_h / 2
        p.append(f'<text x="13" y="{middle:.0f}" class="unit" text-anchor="middle" transform="rotate(-90 13 {middle:.0f})">'
                 f'{escape(self.axis.unit)}</text>')
        for i, label in time_labels(labels):
            edge = self.n > 1 and not self.columns
            anchor = "start" if i == 0 and edge else "end" if i == self.n - 1 and edge else "middle"
            p.append(f'<text x="{self.x(i):.1f}" y="{self.height - 10}" class="tick" text-anchor="{anchor}">'
                     f'{escape(label)}</text>')

    def legend(self, entries: list[tuple[str, str, bool]]) -> None:
        """(name, colour, dashed) in one row above the plot."""
        x = PAD_L
        for name, colour, dashed in entries:
            dash = ' stroke-dasharray="4 3"' if dashed else ""
            self.parts.append(f'<line x1="{x}" y1="27" x2="{x + 14}" y2="27" stroke="{colour}" stroke-width="2"{dash}/>'
                              f'<text x="{x + 18}" y="31" class="legend">{escape(name)}</text>')
            x += 30 + 6 * len(name)

    def empty(self, message: str = "no data yet") -> None:
        self.parts.append(f'<text x="{self.width / 2}" y="{PAD_T + self.plot_h / 2}" class="tick" '
                          f'text-anchor="middle">{escape(message)}</text>')

    def svg(self, title: str, css_class: str) -> str:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css_class)}" width="{self.width}" '
                f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" role="img" '
                f'aria-label="{escape(title)}">' + "".join(self.parts) + "</svg>")


def line_chart(title: str, series: list[Series], labels: list[str], *, axis: Axis, bands: list[Band] = (),
               rules: list[Rule] = (), width: int = 520, height: int = 190, css_class: str = "chart") -> str:
    """Lines over windows on one axis; bands shaded under them, rules labelled at the right end; the last value of
    each line written beside it so a reader need not find it on the axis."""
    values = [v for s in series for v in s.values if v is not None]
    values += [v for b in bands for v in (*b.lower, *b.upper) if v is not None] + [r.value for r in rules]
    n = max([len(s.values) for s in series] + [len(b.lower) for b in bands] + [len(labels)], default=0)
    frame = Frame(title, axis, values, n, width, height)
    frame.axes(labels)
    for band in bands:
        upper = [(i, v) for i, v in enumerate(band.upper) if v is not None and band.lower[i] is not None]
        if len(upper) > 1:
            top = [f"{frame.x(i):.1f},{frame.y(v):.1f}" for i, v in upper]
            bottom = [f"{frame.x(i):.1f},{frame.y(band.lower[i]):.1f}" for i, _ in reversed(upper)]
            frame.parts.append(f'<polygon points="{" ".join(top + bottom)}" fill="{band.colour}" fill-opacity="0.15" '
                               f'class="band"><title>{escape(band.name)}</title></polygon>')
    for rule in rules:
        ry = frame.y(rule.value)
        frame.parts.append(f'<line x1="{PAD_L}" y1="{ry:.1f}" x2="{PAD_L + frame.plot_w}" y2="{ry:.1f}" '
                           f'class="{escape(rule.css)}"/><text x="{PAD_L + frame.plot_w - 2}" y="{ry - 3:.1f}" '
                           f'class="tick" text-anchor="end">{escape(rule.label)}</text>')
    ends: list[list] = []  # the last value of each line, written beside it
    for k, s in enumerate(series):
        colour = s.colour or COLOURS[k % len(COLOURS)]
        points = [(frame.x(i), frame.y(v), v, i) for i, v in enumerate(s.values) if v is not None]
        if len(points) > 1:
            dash = ' stroke-dasharray="5 3"' if s.dashed else ""
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _, _ in points)
            frame.parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for px, py, v, i in points:
            alarm = i < len(s.marked) and s.marked[i]
            frame.parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{4 if alarm else 2.5}" '
                               f'class="{"alarm" if alarm else "point"}" fill="{colour}"><title>{escape(s.name)}: '
                               f'{escape(axis.text(v, frame.step / 10))}</title></circle>')
        if points:
            px, py, v, _ = points[-1]
            ends.append([py, px, colour, axis.text(v, frame.step / 10)])
    for text_y, px, colour, text in _apart(ends):
        frame.parts.append(f'<text x="{px + 6:.1f}" y="{text_y + 3.5:.1f}" class="end-label" fill="{colour}">'
                           f'{escape(text)}</text>')
    if len(series) > 1 or bands:
        frame.legend([(s.name, s.colour or COLOURS[k % len(COLOURS)], s.dashed) for k, s in enumerate(series)])
    if not values:
        frame.empty()
    return frame.svg(title, css_class)


def _apart(labels: list[list], gap: float = 11.0) -> list[list]:
    """End labels moved apart vertically so that two lines ending close together stay readable."""
    labels = sorted(labels)
    for above, below in zip(labels, labels[1:], strict=False):
        below[0] = max(below[0], above[0] + gap)
    return labels


def column_chart(title: str, values: list[float | None], labels: list[str], *, axis: Axis, colour: str = COLOURS[0],
                 width: int = 520, height: int = 190, css_class: str = "chart") -> str:
    """One column per window, e.g. labelled rows: counts on their own axis."""
    n = len(values)
    frame = Frame(title, axis, [v for v in values if v is not None], n, width, height, columns=True)
    frame.axes(labels)
    w = min(max(frame.plot_w / max(n, 1) * 0.7, 1.0), 40.0)
    for i, v in enumerate(values):
        if v is None:
            continue
        x, top = frame.x(i) - w / 2, frame.y(v)
        frame.parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{PAD_T + frame.plot_h - top:.1f}" '
                           f'fill="{colour}" class="column"><title>{escape(labels[i] if i < len(labels) else "")}: '
                           f'{escape(axis.text(v))}</title></rect>')
    if not any(v is not None for v in values):
        frame.empty()
    return frame.svg(title, css_class)
