"""Which version of a model served at a given time, from the AUDIT stream alone.

MLflow keeps only the current alias (it cannot say which version was champion yesterday: mlflow#2169); the audit
trail records every move of the champion alias (promotions, rollbacks) in order, so the answer is the last move
at or before the time asked. Pure folding in `champion_at`; `champion_moves` reads the stream.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from nats.js import JetStreamContext

from consumers.audit.chain import parse_document
from infra.stream_reader import read_stream
from schemas import ModelPromoted, ModelRolledBack
from schemas.streams import AUDIT


@dataclass(frozen=True)
class Move:
    """The champion alias of `model` moved to `version` at `time` (stream sequence `seq`)."""

    seq: int
    time: datetime
    model: str
    version: str
    previous: str | None
    how: str  # "promoted" | "rolled back"
    reason: str
    correlation_id: str

    def json(self) -> dict:
        doc = asdict(self)
        doc["time"] = self.time.isoformat()
        return doc


def move_of(seq: int, doc: dict) -> Move | None:
    """The alias move an audit document records, or None (another event, or a declined promotion). Pure."""
    kind, data = doc.get("type"), doc.get("data") or {}
    if not isinstance(data, dict):
        return None
    time = datetime.fromisoformat(str(doc.get("time")).replace("Z", "+00:00"))
    correlation = str(doc.get("correlationid") or doc.get("correlation_id") or "")
    if kind == ModelPromoted.type_name() and data.get("promoted", True):
        return Move(seq, time, str(data.get("model")), str(data.get("version")), data.get("previous_version"),
                    "promoted", str(data.get("reason", "")), correlation)
    if kind == ModelRolledBack.type_name():
        return Move(seq, time, str(data.get("model")), str(data.get("to_version")), data.get("from_version"),
                    "rolled back", str(data.get("reason", "")), correlation)
    return None


def champion_at(moves: Iterable[Move], model: str, at: datetime) -> Move | None:
    """The last move of `model`'s champion at or before `at`; None if it had no champion yet. Pure."""
    current = None
    for move in moves:
        if move.model == model and move.time <= at:
            current = move
    return current


async def champion_moves(js: JetStreamContext, model: str | None = None) -> list[Move]:
    """Every move of the champion alias (of one model, when named), in stream order."""
    moves = []
    subjects = (ModelPromoted.topic, ModelRolledBack.topic)
    async for msg in read_stream(js, AUDIT.name, subjects=subjects):
        try:
            move = move_of(msg.seq, parse_document(msg.data))
        except (TypeError, ValueError):  # a malformed document is the verifier's business, not an answer here
            continue
        if move is not None and (model is None or move.model == model):
            moves.append(move)
    return moves
