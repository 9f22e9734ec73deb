"""What a drift is, drawn for a reviewer: a drifted feature's reference against current distribution, the shift in
the champion's predictions, and a small multiple per feature. Server-rendered SVG from the monitor's WindowImpact
and drift reports; pure."""

from __future__ import annotations

from html import escape

from ui.axes import RATE, Axis, nice_step, number_text

REFERENCE, CURRENT, RED, GREY = "#7f9cc4", "#c2571a", "#b3261e", "#9aa4b1"


def _svg(width: int, height: int, title: str, parts: list[str], css: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="{escape(css)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            + "".join(parts) + "</svg>")


def _legend(x: float, y: float, entries: list[tuple[str, str]]) -> list[str]:
    out = []
    for name, colour in entries:
        out.append(f'<rect x="{x:.0f}" y="{y - 8:.0f}" width="10" height="10" fill="{colour}" fill-opacity="0.75"/>'
                   f'<text x="{x + 14:.0f}" y="{y + 1:.0f}" class="legend">{escape(name)}</text>')
        x += 26 + 6 * len(name)
    return out


def distribution_chart(impact: dict, *, width: int = 330, height: int = 214) -> str:
    """Reference (blue) against the last window (orange) as shares of rows per bin, the two means marked."""
    name, dist = impact["feature"], impact.get("distribution") or {}
    ref, now = dist.get("reference") or [], dist.get("window") or []
    ref_mean, win_mean, shift = impact.get("reference_mean"), impact.get("window_mean"), impact.get("shift", 0.0)
    if ref_mean is not None and win_mean is not None:
        moved = f"mean {number_text(ref_mean)} → {number_text(win_mean)} ({shift:+.1f} SD)"
    else:
        moved = f"{shift:.0%} of values moved to another category"
    title = f"{name}: {moved}"
    pad_l, pad_r, pad_t, pad_b = 44, 10, 54, 34
    plot_w, plot_h = width - pad_l - pad_r, height - pad_t - pad_b
    axis = Axis("share of rows", RATE)
    lo, hi, step = axis.span([*ref, *now])
    parts = [f'<text x="8" y="14" class="chart-title">{escape(name)}</text>',
             f'<text x="8" y="29" class="unit">{escape(moved)}</text>',
             *_legend(8, 45, [("reference", REFERENCE), ("last window", CURRENT)])]

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - (v - lo) / (hi - lo))

    for tick in axis.ticks(lo, hi, step):
        parts.append(f'<line x1="{pad_l}" y1="{y(tick):.1f}" x2="{pad_l + plot_w}" y2="{y(tick):.1f}" class="grid"/>'
                     f'<text x="{pad_l - 4}" y="{y(tick) + 3.5:.1f}" class="tick" text-anchor="end">'
                     f'{escape(axis.text(tick, step))}</text>')
    n = max(len(ref), 1)
    slot = plot_w / n
    for i, (r, c) in enumerate(zip(ref, now, strict=False)):
        x = pad_l + slot * i
        for share, colour, offset in ((r, REFERENCE, 0.08), (c, CURRENT, 0.5)):
            top = y(share)
            parts.append(f'<rect x="{x + slot * offset:.1f}" y="{top:.1f}" width="{slot * 0.42:.1f}" '
                         f'height="{pad_t + plot_h - top:.1f}" fill="{colour}" fill-opacity="0.8"/>')
    bottom = pad_t + plot_h
    parts.append(f'<line x1="{pad_l}" y1="{bottom}" x2="{pad_l + plot_w}" y2="{bottom}" class="axis"/>')
    edges, categories = dist.get("edges") or [], dist.get("categories") or []
    if edges:
        span = edges[-1] - edges[0] or 1.0

        def x_of(v: float) -> float:
            return pad_l + plot_w * (v - edges[0]) / span

        tick_step = nice_step(span, 4)
        first = -(-edges[0] // tick_step) * tick_step
        ticks = [first + k * tick_step for k in range(int((edges[-1] - first) / tick_step) + 1)]
        for tick in ticks:
            parts.append(f'<text x="{x_of(tick):.1f}" y="{bottom + 13}" class="tick" text-anchor="middle">'
                         f'{escape(number_text(tick, tick_step))}</text>')
        for mean, colour, label in ((ref_mean, REFERENCE, "mean before"), (win_mean, CURRENT, "mean now")):
            if mean is not None and edges[0] <= mean <= edges[-1]:
                parts.append(f'<line x1="{x_of(mean):.1f}" y1="{pad_t}" x2="{x_of(mean):.1f}" y2="{bottom}" '
                             f'stroke="{colour}" stroke-width="2" stroke-dasharray="4 3"><title>{label} '
                             f'{escape(number_text(mean))}</title></line>')
    for i, category in enumerate(categories):
        parts.append(f'<text x="{pad_l + slot * (i + 0.5):.1f}" y="{bottom + 13}" class="tick" text-anchor="middle">'
                     f'{escape(str(category)[:10])}</text>')
    parts.append(f'<text x="{pad_l + plot_w / 2:.0f}" y="{height - 6}" class="unit" text-anchor="middle">'
                 f'{escape(name)}</text>')
    if not ref:
        parts.append(f'<text x="{width / 2}" y="{pad_t + plot_h / 2}" class="tick" text-anchor="middle">'
                     'no distribution in this report</text>')
    return _svg(width, height, title, parts, "chart dist-chart")


def prediction_shift_chart(impact: dict, *, width: int = 330, height: int | None = None) -> str:
    """The predicted positive share before and now, then what each drifted feature alone does to the mean predicted
    probability (percentage points, all else equal)."""
    label = impact.get("positive_class") or "positive"
    before, now = impact.get("reference_positive_rate"), impact.get("positive_rate")
    features = impact.get("features") or []
    rows = 2 + len(features)
    height = height or 58 + 24 * rows
    title = f"Predicted {label}: " + (f"{before:.0%} → {now:.0%}" if before is not None and now is not None else
                                      "share not measured")
    pad_l, pad_r = 128, 64  # feature names left, the figures in a column of their own right
    plot_w = width - pad_l - pad_r
    parts = [f'<text x="8" y="14" class="chart-title">{escape(title)}</text>']
    y = 34
    for name, rate, colour in (("reference", before, REFERENCE), ("last window", now, CURRENT)):
        parts.append(f'<text x="{pad_l - 6}" y="{y + 11}" class="tick" text-anchor="end">{name}</text>')
        if rate is not None:
            parts.append(f'<rect x="{pad_l}" y="{y}" width="{plot_w * rate:.1f}" height="15" fill="{colour}"/>'
                         f'<text x="{pad_l + plot_w + 6:.1f}" y="{y + 11}" class="end-label">{rate:.0%}</text>')
        y += 24
    if features:
        parts.append(f'<text x="8" y="{y + 10}" class="unit">Each drifted feature alone (points of probability):'
                     '</text>')
        y += 18
        effects = [f.get("effect", 0.0) for f in features]
        most = max(abs(e) for e in effects) or 0.01
        both = min(effects) < 0 < max(effects)  # bars both ways from a middle line; else the whole width one way
        span = plot_w / 2 if both else plot_w
        middle = pad_l + plot_w / 2 if both else pad_l if max(effects) > 0 else pad_l + plot_w
        parts.append(f'<line x1="{middle}" y1="{y - 4}" x2="{middle}" y2="{y + 24 * len(features) - 6}" class="axis"/>')
        for f in features:
            effect = f.get("effect", 0.0)
            w = span * abs(effect) / most
            x = middle if effect >= 0 else middle - w
            parts.append(f'<text x="{pad_l - 6}" y="{y + 11}" class="tick" text-anchor="end">'
                         f'{escape(f["feature"][:20])}</text><rect x="{x:.1f}" y="{y}" width="{max(w, 1):.1f}" '
                         f'height="15" fill="{RED if effect > 0 else REFERENCE}"><title>flips '
                         f'{f.get("flip_rate", 0):.0%} of reference predictions</title></rect>'
                         f'<text x="{pad_l + plot_w + 6:.1f}" y="{y + 11}" class="end-label">'
                         f'{effect * 100:+.1f} pts</text>')
            y += 24
    return _svg(width, height, title, parts, "chart shift-chart")


def small_multiple(name: str, ratios: list[float | None], marked: list[bool], *, drifted: bool,
                   width: int = 172, height: int = 64) -> str:
    """One feature's drift statistic over windows as a multiple of its threshold (the red line is 1x)."""
    values = [r for r in ratios if r is not None]
    hi = max([1.5, *values]) * 1.1
    pad_t, pad_b, pad_x = 16, 6, 4
    plot_h, plot_w = height - pad_t - pad_b, width - 2 * pad_x
    n = len(ratios)

    def x(i: int) -> float:
        return pad_x + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def y(v: float) -> float:
        return pad_t + plot_h * (1 - min(v, hi) / hi)

    last = values[-1] if values else None
    label = f"{name[:24]}" + (f" · {last:.1f}×" if last is not None else "")
    colour = RED if drifted else GREY
    parts = [f'<text x="{pad_x}" y="11" class="{"sm-title drifted" if drifted else "sm-title"}">{escape(label)}</text>',
             f'<line x1="{pad_x}" y1="{y(1.0):.1f}" x2="{pad_x + plot_w}" y2="{y(1.0):.1f}" class="threshold"/>']
    points = [(x(i), y(v)) for i, v in enumerate(ratios) if v is not None]
    if len(points) > 1:
        parts.append(f'<polyline points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in points)}" fill="none" '
                     f'stroke="{colour}" stroke-width="1.6"/>')
    for i, v in enumerate(ratios):
        if v is not None and i < len(marked) and marked[i]:
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{RED}"/>')
    return _svg(width, height, f"{name}: drift statistic / threshold per window", parts,
                "small-multiple drifted" if drifted else "small-multiple")
