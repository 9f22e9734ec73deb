"""The images logged with each candidate: confusion matrix and feature importance, as PNG bytes."""

from __future__ import annotations

import io
from typing import Any

TOP_FEATURES = 15


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def confusion_png(matrix: list[list[int]], classes: list[Any], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3.6))
    ax.imshow(matrix, cmap="Blues")
    labels = [str(c) for c in classes]
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="white" if value > peak / 2 else "black")
    return _png(fig)


def importance_png(importance: dict[str, float], title: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    top = sorted(importance.items(), key=lambda kv: kv[1], reverse=True)[:TOP_FEATURES][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(top) + 1.2))
    ax.barh([name for name, _ in top], [value for _, value in top], color="#3b75af")
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)
