"""Which version was champion at a time: the last move of the alias at or before it, from audit documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumers.audit.served import champion_at, move_of

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def doc(kind: str, minutes: float, **data) -> dict:
    return {"type": f"driftline.model.{kind}.v1", "time": (T0 + timedelta(minutes=minutes)).isoformat(),
            "correlationid": "c1", "data": {"model": "m", **data}}


def test_the_champion_at_a_time_is_the_last_move_before_it_declined_promotions_and_other_models_aside():
    docs = [doc("promoted", 0, version="1"), doc("promoted", 5, version="9", model="other"),
            doc("promoted", 10, version="2", previous_version="1"),
            doc("promoted", 20, version="3", promoted=False), doc("rolled_back", 30, from_version="2", to_version="1"),
            doc("trained", 40, version="4"), {"type": "driftline.model.promoted.v1", "time": T0.isoformat(),
                                              "data": "not an object"}]
    moves = [m for seq, d in enumerate(docs, 1) if (m := move_of(seq, d)) is not None]
    assert [(m.model, m.version, m.how) for m in moves] == [
        ("m", "1", "promoted"), ("other", "9", "promoted"), ("m", "2", "promoted"), ("m", "1", "rolled back")]

    def at(minutes):
        found = champion_at(moves, "m", T0 + timedelta(minutes=minutes))
        return found and (found.version, found.how)

    assert [at(m) for m in (-1, 0, 9.9, 10, 25, 30, 99)] == [
        None, ("1", "promoted"), ("1", "promoted"), ("2", "promoted"), ("2", "promoted"), ("1", "rolled back"),
        ("1", "rolled back")]
