"""Server-side charts (matplotlib, Agg, SVG): each returns a data URI a template puts in an <img>. The confusion
matrix and the importances are infra/plots.py's, shared with the trainer."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from infra import plots  # noqa: E402

plt.rcParams.update(plots.STYLE)
BLUE, ORANGE, GREY, RED = plots.BLUE, "#e08a1e", "#9aa3ad", "#c0392b"
WIDTH = 6.6  # inches: the printable width of an A4 page with our margins


def _uri(fig, tight: bool = False) -> str:
    """SVG data URI; `tight` crops to the drawn area (for legends placed outside the axes)."""
    buf = io.BytesIO()
    if not tight:
        fig.tight_layout()  # keep the figure size, so half-width figures share one scale
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return plots.data_uri(buf.getvalue())


def grouped_bars(series: Mapping[str, Mapping[str, float]], title: str, highlight: str | None = None,
                 height: float = 2.6) -> str:
    """One group of bars per metric, one bar per series (candidate, champion...)."""
    metrics = sorted({m for values in series.values() for m in values})
    names = list(series)
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    width = 0.8 / max(1, len(names))
    colors = plt.cm.tab10.colors
    for i, name in enumerate(names):
        values = [series[name].get(m, np.nan) for m in metrics]
        ax.bar(np.arange(len(metrics)) + i * width - 0.4 + width / 2, values, width, label=name,
               color=colors[i % 10], edgecolor="black" if name == highlight else "none", linewidth=1.2)
    ax.set_xticks(np.arange(len(metrics)), metrics)
    lows = [v for values in series.values() for v in values.values() if np.isfinite(v)]
    ax.set_ylim(max(0.0, min(lows, default=0) - 0.05), min(1.02, max(lows, default=1) + 0.03))
    ax.set_title(title)
    # Outside the axes: a legend inside would cover the bars it explains.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3)
    if len(metrics) * len(names) <= 12:
        for container in ax.containers:
            ax.bar_label(container, fmt="%.4f", fontsize=6, padding=1)
    return _uri(fig, tight=True)


def statistics(rows: Sequence[tuple[str, float, float, bool]], title: str) -> str:
    """Horizontal bars of (feature, value, threshold, drifted), drifted in red, threshold as a tick."""
    rows = sorted(rows, key=lambda r: r[1] / r[2] if r[2] else r[1])
    height = max(1.6, 0.18 * len(rows) + 0.7)
    fig, ax = plt.subplots(figsize=(WIDTH, height))
    y = np.arange(len(rows))
    ax.barh(y, [r[1] for r in rows], color=[RED if r[3] else GREY for r in rows])
    ax.scatter([r[2] for r in rows], y, marker="|", s=120, color="black", label="threshold", zorder=3)
    ax.set_yticks(y, [r[0] for r in rows], fontsize=6.5)
    ax.set_title(title)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(axis="x", alpha=0.3)
    return _uri(fig, tight=True)


def distributions(feature: str, reference: Sequence[float], current: Sequence[float] | None, title: str) -> str:
    """Reference against current as overlaid normalised histograms on shared bins."""
    fig, ax = plt.subplots(figsize=(3.2, 2.1))
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float) if current is not None and len(current) else None
    both = ref if cur is None else np.concatenate([ref, cur])
    bins = np.histogram_bin_edges(both[np.isfinite(both)], bins=30)
    ax.hist(ref, bins=bins, density=True, alpha=0.55, color=BLUE, label=f"reference (n={len(ref)})")
    if cur is not None:
        ax.hist(cur, bins=bins, density=True, alpha=0.55, color=ORANGE, label=f"current (n={len(cur)})")
    ax.set_title(title, fontsize=8)
    ax.set_xlabel(feature, fontsize=7)
    ax.tick_params(labelsize=6.5)
    ax.legend(fontsize=6, frameon=False)
    return _uri(fig)


def before_after(before: Mapping[str, float], after: Mapping[str, float], title: str) -> str:
    return grouped_bars({"before": dict(before), "after": dict(after)}, title, height=1.9)
