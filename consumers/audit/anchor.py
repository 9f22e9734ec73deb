"""The anchor: each signed head also written outside NATS and PostgreSQL, once, where neither store's access reaches.

A directory a user names (DRIFTLINE_AUDIT_ANCHOR_DIR, default data_dir/audit-anchor) standing for write-once
storage: an object-store bucket with retention (S3 Object Lock, GCS retention policy) mounted or synced there, or a
WORM volume. One file per checkpoint, named by the sequence it vouches for (`00000000000000001000.json`), created
with O_EXCL and never rewritten: a second write of the same head is a no-op, a different head for a sequence
already anchored is refused and logged. An entry holds the signed checkpoint and the stream sequence it was stored
at, so removing checkpoint messages from the stream is seen too. `audit verify` compares every entry with the chain.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from schemas.audit import Checkpoint

log = logging.getLogger(__name__)

SUFFIX = ".json"
NAME_DIGITS = 20


class AnchorConflict(Exception):
    """The anchor already holds a different head for this sequence (it is never overwritten)."""


@dataclass(frozen=True)
class Entry:
    """One anchored file as read back: its sequence (from the name), the checkpoint payload and the stream sequence
    of the checkpoint message, or why it is unreadable."""

    sequence: int
    name: str
    data: dict | None
    problem: str = ""
    stored_at: int | None = None


class Anchor:
    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def path_for(self, sequence: int) -> Path:
        return self.directory / f"{sequence:0{NAME_DIGITS}d}{SUFFIX}"

    def write(self, checkpoint: Checkpoint, stored_at: int | None) -> bool:
        """Anchor a signed head once (`stored_at`: the stream sequence of its checkpoint message); True if written
        now, False if the same head was already there."""
        text = json.dumps({"checkpoint": checkpoint.model_dump(), "stored_at": stored_at}, sort_keys=True) + "\n"
        path = self.path_for(checkpoint.last_sequence)
        self.directory.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileExistsError:
            if _checkpoint_of(path) == checkpoint.model_dump():  # the same head (perhaps re-published later)
                return False
            raise AnchorConflict(f"{path} already holds a different head for sequence {checkpoint.last_sequence}; "
                                 "it is never overwritten (a reset stream with an old anchor? see docs/operations.md)"
                                 ) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        _sync_dir(self.directory)
        return True

    def entries(self) -> list[Entry]:
        """Every anchored file in sequence order; a stray or unreadable file is an entry with its problem."""
        if not self.directory.is_dir():
            return []
        out = []
        for path in self.directory.iterdir():
            if path.name.startswith(".") or path.is_dir():
                continue
            stem = path.name.removesuffix(SUFFIX)
            if not (path.name.endswith(SUFFIX) and stem.isdigit()):
                out.append(Entry(0, path.name, None, "not an anchor file name (NNNN.json)"))
                continue
            try:
                doc = json.loads(path.read_bytes()[:65536])
            except (OSError, ValueError) as exc:
                out.append(Entry(int(stem), path.name, None, f"unreadable: {exc}"))
                continue
            data = doc.get("checkpoint") if isinstance(doc, dict) else None
            stored_at = doc.get("stored_at") if isinstance(doc, dict) else None
            out.append(Entry(int(stem), path.name, data if isinstance(data, dict) else None,
                             "" if isinstance(data, dict) else "no checkpoint object in it",
                             stored_at if isinstance(stored_at, int) and not isinstance(stored_at, bool) else None))
        return sorted(out, key=lambda e: (e.sequence, e.name))


def _checkpoint_of(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return doc.get("checkpoint") if isinstance(doc, dict) else None


def _sync_dir(directory: Path) -> None:
    """The new name itself durable (a crash right after must not lose the entry)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
