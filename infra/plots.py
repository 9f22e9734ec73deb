"""The model-evidence figures both the trainer and the reports draw: a confusion matrix and the top feature
importances (matplotlib, Agg). PNG for the images the trainer logs with each candidate in MLflow, SVG for the PDF
reports (vector, and byte-for-byte stable: no date, a fixed hash salt, text as paths)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Literal

Format = Literal["png", "svg"]
STYLE = {"font.size": 8, "axes.titlesize": 9, "axes.spines.top": False, "axes.spines.right": False,
         "svg.hashsalt": "driftline", "svg.fonttype": "path"}
BLUE = "#2f6db3"
SIZE = (3.3, 2.8)  # inches: half the printable width of an A4 report page
PNG_DPI = 120


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: chosen when a figure is drawn, not when this module is imported
    import matplotlib.pyplot as plt

    return plt


def _render(plt, fig, fmt: Format) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    if fmt == "svg":
        fig.savefig(buf, format="svg", metadata={"Date": None})
    else:
        fig.savefig(buf, format="png", dpi=PNG_DPI)
    plt.close(fig)
    return buf.getvalue()


def confusion(matrix: Sequence[Sequence[int]], labels: Sequence[object], title: str, fmt: Format = "svg") -> bytes:
    """Rows are the true classes, columns the predicted ones; each cell shows its count."""
    import numpy as np

    plt = _pyplot()
    data = np.asarray(matrix)
    names = [str(label) for label in labels]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SIZE)
        ax.imshow(data, cmap="Blues")
        peak = data.max() if data.size else 0
        for (r, c), value in np.ndenumerate(data):
            ax.text(c, r, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
        ax.set_xticks(range(len(names)), names)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title)
        return _render(plt, fig, fmt)


def strongest(values: Mapping[str, float], top: int) -> list[tuple[str, float]]:
    """The `top` (feature, importance) pairs by absolute importance, strongest first."""
    return sorted(values.items(), key=lambda kv: abs(kv[1]), reverse=True)[:top]


def importance(values: Mapping[str, float], title: str, top: int = 12, fmt: Format = "svg") -> bytes:
    """The `top` features by absolute importance (a linear model's signed coefficients count by size), largest on
    top."""
    plt = _pyplot()
    ranked = strongest(values, top)[::-1]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=SIZE)
        ax.barh([name for name, _ in ranked], [value for _, value in ranked], color=BLUE)
        ax.tick_params(axis="y", labelsize=6.5)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        return _render(plt, fig, fmt)


def data_uri(svg: bytes) -> str:
    """An SVG as a data URI a template puts in an <img>."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
