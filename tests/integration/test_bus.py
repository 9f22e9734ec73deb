"""The bus runtime against a real nats-server and PostgreSQL: dedupe, DLQ, immutability, crashes, acks."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest
from nats.js.errors import APIError

from infra.consumer import ConsumerRunner, ConsumerSpec, Rejected
from infra.db import migrate
from schemas import AlertRaised, PredictionRequested

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def request(i: int) -> PredictionRequested:
    return PredictionRequested(source="test", subject="m", data={"request_id": f"r{i}", "features": {"x": float(i)}})


def alert() -> AlertRaised:
    return AlertRaised(source="test", subject="m", data=dict(kind="data_drift", model="m", fingerprint="f",
                                                             statistic="psi", value=0.4, threshold=0.2, detector="psi"))


async def run_until(runner: ConsumerRunner, done, timeout: float = 20.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await task


async def test_same_event_published_twice_is_stored_once(bus):
    event = request(1)
    first = await bus.publish(event)
    second = await bus.publish(event)
    assert second.duplicate and not first.duplicate
    other = request(2)
    acks = await bus.publish_many([event, other, other])
    assert [bool(a.duplicate) for a in acks] == [True, False, True]
    info = await bus.js.stream_info("REQUESTS")
    assert info.state.messages == 2


async def test_malformed_message_goes_to_dlq_and_the_next_is_processed(bus):
    seen = []

    async def handle(batch):
        seen.extend(item.event.id for item in batch)

    good_before, good_after = request(1), request(2)
    await bus.publish(good_before)
    await bus.js.publish(PredictionRequested.topic, b'{"type": "driftline.prediction.requested.v1", "data": 5}')
    await bus.js.publish(PredictionRequested.topic, b"\xff not json")
    await bus.publish(good_after)
    spec = ConsumerSpec("t-dlq", "REQUESTS", (PredictionRequested.topic,), batch=10, max_wait=0.2)
    runner = ConsumerRunner(bus, spec, handle)
    await run_until(runner, lambda: len(seen) == 2)
    assert seen == [good_before.id, good_after.id]

    dlq = await bus.js.pull_subscribe("driftline.dlq.t-dlq", durable="dlq-reader", stream="DLQ")
    dead = await dlq.fetch(2, timeout=5)
    reasons = [m.headers["Driftline-Error"] for m in dead]
    assert "invalid driftline.prediction.requested.v1" in reasons[0] and "source: Field required" in reasons[0]
    assert reasons[1].startswith("not JSON")
    assert dead[1].data == b"\xff not json"  # the raw bytes, untouched
    assert dead[0].headers["Driftline-Origin"] == "REQUESTS:2"
    assert await runner.pending() == (0, 0)


async def test_transient_failure_is_retried_then_dead_lettered(bus):
    attempts: dict[str, int] = {}

    async def handle(batch):
        for item in batch:
            attempts[item.event.data.request_id] = attempts.get(item.event.data.request_id, 0) + 1
            if item.event.data.request_id == "r1":
                raise ConnectionError("database down")
            if item.event.data.request_id == "r2":
                raise Rejected("unknown model")

    await bus.publish_many([request(0), request(1), request(2)])
    spec = ConsumerSpec("t-retry", "REQUESTS", (PredictionRequested.topic,), max_wait=0.1, max_deliver=3,
                        backoff=(0.05, 0.05))
    runner = ConsumerRunner(bus, spec, handle)

    async def dlq_count():
        return (await bus.js.stream_info("DLQ")).state.messages

    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    async with asyncio.timeout(20):
        while await dlq_count() < 2:
            await asyncio.sleep(0.05)
    stop.set()
    await task
    assert attempts["r1"] >= 3  # retried up to max_deliver, then given up
    msg = await bus.js.get_last_msg("DLQ", "driftline.dlq.t-retry")
    assert "gave up after 3 deliveries" in msg.headers["Driftline-Error"] or "rejected" in msg.headers[
        "Driftline-Error"]
    assert await runner.pending() == (0, 0)


async def test_audit_stream_refuses_delete_and_purge(bus):
    ack = await bus.publish(alert())
    with pytest.raises(APIError):
        await bus.js.delete_msg("AUDIT", ack.seq)
    with pytest.raises(APIError):
        await bus.js.purge_stream("AUDIT")
    info = await bus.js.stream_info("AUDIT")
    assert info.config.deny_delete and info.config.deny_purge and info.state.messages == 1


async def test_pending_acks_return_to_zero_after_a_burst(bus):
    seen = set()

    async def handle(batch):
        seen.update(item.event.id for item in batch)

    await bus.publish_many([request(i) for i in range(3000)])
    spec = ConsumerSpec("t-burst", "REQUESTS", (PredictionRequested.topic,), batch=256, max_wait=0.05)
    runner = ConsumerRunner(bus, spec, handle)
    await run_until(runner, lambda: len(seen) == 3000)
    async with asyncio.timeout(5):
        while await runner.pending() != (0, 0):
            await asyncio.sleep(0.05)
    info = await bus.js.consumer_info("REQUESTS", "t-burst")
    assert info.num_redelivered == 0  # nothing waited on a redelivery


async def test_consumer_killed_mid_batch_loses_nothing_and_repeats_no_effect(bus, nats_server, database_url):
    conn = await asyncpg.connect(database_url)
    await conn.execute("CREATE TABLE effects (id serial PRIMARY KEY, event_id text NOT NULL)")
    await conn.execute("CREATE TABLE deliveries (event_id text NOT NULL, attempt int NOT NULL)")
    events = [request(i) for i in range(400)]
    await bus.publish_many(events)
    cmd = [sys.executable, "-m", "tests.integration.effect_consumer", nats_server.url, database_url, "t-crash",
           str(nats_server.auth.seed_file("operator"))]

    def start():
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        return proc

    proc = start()
    async with asyncio.timeout(30):
        while await conn.fetchval("SELECT count(*) FROM effects") < 120:
            await asyncio.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = await conn.fetchval("SELECT count(*) FROM effects")
    assert killed_at < 400
    proc = start()
    try:
        async with asyncio.timeout(60):
            while await conn.fetchval("SELECT count(*) FROM effects") < 400:
                await asyncio.sleep(0.05)
            while (await bus.js.consumer_info("REQUESTS", "t-crash")).num_ack_pending:
                await asyncio.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    rows = await conn.fetch("SELECT event_id, count(*) AS n FROM effects GROUP BY event_id")
    redelivered = await conn.fetchval("SELECT count(*) FROM deliveries WHERE attempt > 1")
    await conn.close()
    assert {r["event_id"] for r in rows} == {e.id for e in events}
    assert max(r["n"] for r in rows) == 1
    assert redelivered > 0  # the killed batch really was delivered again, and had no second effect
    print(json.dumps({"published": 400, "effects_before_kill": killed_at, "processed": len(rows),
                      "duplicated": 0, "redelivered": redelivered}))


async def test_a_store_from_before_the_request_stream_is_brought_to_the_two_data_plane_streams(nats_server, settings):
    """PREDICTIONS used to hold driftline.prediction.> (requests too): provisioning hands requests to REQUESTS and
    deletes the worker's old consumer, which could never receive anything again; stored messages stay."""
    from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig

    from infra.bus import Bus
    from infra.streams import ensure_streams

    old = await Bus.connect(nats_server.url, name="old", credential=nats_server.auth.seed_file("operator"))
    try:
        await old.js.add_stream(StreamConfig(name="PREDICTIONS", subjects=["driftline.prediction.>",
                                                                           "driftline.feedback.>"]))
        for durable, subject in (("inference-worker", PredictionRequested.topic), ("monitor", "driftline.>")):
            await old.js.add_consumer("PREDICTIONS", ConsumerConfig(durable_name=durable, filter_subject=subject,
                                                                    ack_policy=AckPolicy.EXPLICIT))
        await old.publish(request(1))
        await ensure_streams(old.js, settings)
        assert (await old.js.stream_info("PREDICTIONS")).state.messages == 1  # nothing deleted
        assert sorted(c.name for c in await old.js.consumers_info("PREDICTIONS")) == ["monitor"]
        ack = await old.publish(request(2))
        assert ack.stream == "REQUESTS"
        await ensure_streams(old.js, settings)  # a second start changes nothing
        assert (await old.js.stream_info("REQUESTS")).state.messages == 1
    finally:
        await old.close()


async def test_migrations_apply_once_in_order(database_url):
    conn = await asyncpg.connect(database_url)
    try:
        assert await migrate(conn) == []  # the fixture already applied them all
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations ORDER BY 1")]
        assert versions == sorted(versions) and versions[0] == 1
    finally:
        await conn.close()


async def test_a_stream_read_outlasts_a_server_that_stops_answering_for_a_while(bus, nats_server):
    """The server freezes mid-read (SIGSTOP, as a saturated machine stalls it): the reader asks again, skips the late
    answers to the first request, and yields every message once, in order."""
    from infra.stream_reader import read_stream

    await bus.publish_many([request(i) for i in range(60)])
    seqs = []
    async for message in read_stream(bus.js, "REQUESTS", batch=10, timeout=0.3):
        seqs.append(message.seq)
        if len(seqs) == 15:
            nats_server.proc.send_signal(signal.SIGSTOP)
            asyncio.get_running_loop().call_later(0.8, nats_server.proc.send_signal, signal.SIGCONT)
    assert seqs == list(range(1, 61))


async def test_a_batch_nobody_acknowledged_in_time_is_sent_again_and_stored_once(bus, nats_server):
    """A producer's batch outlasts a server that stalls past the publish timeout; what the first try stored is not
    stored twice (the event ids), and without further tries the stall is an error."""
    bus.publish_timeout = 0.5
    events = [request(i) for i in range(40)]
    nats_server.proc.send_signal(signal.SIGSTOP)
    asyncio.get_running_loop().call_later(0.8, nats_server.proc.send_signal, signal.SIGCONT)
    acks = await bus.publish_many(events, attempts=3)
    assert len(acks) == 40
    assert (await bus.js.stream_info("REQUESTS")).state.messages == 40

    nats_server.proc.send_signal(signal.SIGSTOP)
    asyncio.get_running_loop().call_later(0.8, nats_server.proc.send_signal, signal.SIGCONT)
    with pytest.raises(TimeoutError):
        await bus.publish_many([request(i) for i in range(40, 50)])
    await asyncio.sleep(1.0)  # the server is back: the late acks are dropped, the messages stored once
    assert (await bus.js.stream_info("REQUESTS")).state.messages == 50
