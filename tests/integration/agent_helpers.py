"""Helpers for the agent's integration tests: run the agent in-process, watch the bus, call the terminal."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace

from schemas import Event, parse_event

ROOT = Path(__file__).resolve().parents[2]


class Watch:
    """Every event published on driftline.> while it is open (core subscription: sees JetStream publishes)."""

    def __init__(self):
        self.events: list[Event] = []
        self._sub = None

    async def start(self, bus) -> Watch:
        async def on_msg(msg):
            try:
                self.events.append(parse_event(msg.data))
            except Exception:  # dead letters and raw copies are not events
                pass

        self._sub = await bus.nc.subscribe("driftline.>", cb=on_msg)
        return self

    def of(self, cls: type[Event], where: Callable[[Event], bool] = lambda e: True) -> list[Event]:
        seen, out = set(), []
        for e in self.events:  # a re-published duplicate (same id) is one event
            if isinstance(e, cls) and where(e) and e.id not in seen:
                seen.add(e.id)
                out.append(e)
        return out

    async def wait(self, cls: type[Event], where: Callable[[Event], bool] = lambda e: True, n: int = 1,
                   timeout: float = 30) -> list[Event]:
        async with asyncio.timeout(timeout):
            while len(self.of(cls, where)) < n:
                await asyncio.sleep(0.05)
        return self.of(cls, where)

    async def stop(self):
        await self._sub.unsubscribe()


class FakeTrainer:
    """Stands in for trainer.api.train_async: records its calls, returns an outcome shaped like TrainOutcome."""

    def __init__(self):
        self.calls: list[dict] = []

    async def __call__(self, settings, **kwargs):
        self.calls.append(kwargs)
        return SimpleNamespace(version="2", promoted=True, reason="beats the champion", champion_version="2",
                               previous_champion="1", parent_run_id="run-x", events=[])


@asynccontextmanager
async def running_agent(settings, train=None):
    from driftline.run_agent import main

    stop = asyncio.Event()
    task = asyncio.create_task(main(settings, stop, train=train or FakeTrainer()))
    await asyncio.sleep(0.5)
    if task.done():
        task.result()
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


async def cli(settings, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> tuple[int, str]:
    """Run `driftline ARGS` as a person would in a terminal; (exit code, stdout+stderr)."""
    env = {**os.environ, "DRIFTLINE_NATS_URL": settings.nats_url, "DRIFTLINE_DATABASE_URL": settings.database_url,
           "DRIFTLINE_DATA_DIR": str(settings.data_dir), **(env or {})}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "driftline", *args, cwd=ROOT, env=env,
                                                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(None if stdin is None else (stdin + "\n").encode())
    return proc.returncode, out.decode()


async def decide(settings, verb: str, approval_id: str, person: str, *args: str,
                 password: str | None = None) -> tuple[int, str]:
    """`driftline approvals approve|reject ID --as PERSON --password-stdin`, the password piped in."""
    return await cli(settings, "approvals", verb, approval_id, "--as", person, "--password-stdin", *args,
                     stdin=password if password is not None else f"pw-{person}")


async def approved_schedule(pool, settings, kind: str, params: dict, *, action_id: str, tier: str = "one_approver",
                            requested_by: str = "agent", decided_by: str = "bob", model: str = "driftline-classifier",
                            correlation_id: str = "01a00000-0000-7000-8000-000000000001"):
    """What the approvals owner announces after a person approves exactly this action (request row, signed
    decision): the ActionScheduled, read back from the outbox as the relay would publish it."""
    import json
    from datetime import timedelta

    from agent.approvals import book
    from agent.approvals.keys import decision_signer
    from agent.approvals.rules import action_hash
    from infra.users import add_user, get_user
    from schemas import ActionScheduled, ApprovalRequested
    from schemas.action import ActionSpec
    from schemas.envelope import derived_id, utcnow

    action = ActionSpec(action_id=action_id, kind=kind, model=model, params=params, tier=tier, reason="test")
    approval_id = derived_id(correlation_id, "approval", action_id)
    request = ApprovalRequested(id=approval_id, source="agent/gate", subject=model, correlation_id=correlation_id,
                                data=dict(approval_id=approval_id, action=action, action_hash=action_hash(action),
                                          requested_by=requested_by, summary="test",
                                          expires_at=utcnow() + timedelta(hours=1)))
    async with pool.acquire() as conn:
        role = "admin" if tier == "human_only" else "approver"
        for name in {requested_by, decided_by} - {"agent"}:
            if await get_user(conn, name) is None:
                await add_user(conn, name, role, password=f"pw-{name}-1234")
        await book.record_request(conn, request)
        verdict = await book.decide(conn, approval_id, await get_user(conn, decided_by), "approve",
                                    request.data.action_hash, utcnow(), signer=decision_signer(settings))
        assert verdict.refusal is None, verdict.refusal
        raw = await conn.fetchval("SELECT payload FROM outbox WHERE type = $1 AND convert_from(payload, 'UTF8') LIKE $2",
                                  ActionScheduled.type_name(), f"%{approval_id}%")
    return ActionScheduled.model_validate(json.loads(bytes(raw)))
