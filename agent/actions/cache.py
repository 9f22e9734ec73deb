"""clear_cache: empty the local model download cache under the data directory."""

from __future__ import annotations

import shutil
from pathlib import Path

from agent.actions.base import ActionContext, ActionResult
from infra.settings import Settings


def model_cache_dir(settings: Settings) -> Path:
    return (settings.data_dir / "cache" / "models").resolve()


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []
    return len(files), sum(p.stat().st_size for p in files)


async def clear_cache(ctx: ActionContext) -> ActionResult:
    """Remove everything in the cache folder (naturally idempotent: a rerun finds it empty)."""
    folder = model_cache_dir(ctx.settings)
    files, size = _size(folder)
    if folder.exists():
        for child in folder.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    after_files, after_size = _size(folder)
    return ActionResult(summary=f"cleared {files} file(s), {size} bytes from {folder}", result={"folder": str(folder)},
                        metrics_before={"files": files, "bytes": size},
                        metrics_after={"files": after_files, "bytes": after_size})
