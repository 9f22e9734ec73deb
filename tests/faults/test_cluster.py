"""A 3-node JetStream cluster on loopback, streams at 3 replicas: a leader killed, a node frozen.

The consumer runs supervised, as in production: while the consumer's leader is re-elected, a pull can fail with
ServiceUnavailableError (503); the runner waits it out, and should the process exit anyway it is restarted (the
tally counts those restarts, consumer_restarts). The audit projector runs on the same runner and is put through
its consumer's leader dying."""

from __future__ import annotations

import asyncio
import json

import pytest

from infra.nats_server import NatsCluster
from schemas import PredictionRequested
from tests.faults.harness import PublishLoop, SupervisedWorker, Tally, effect_counts, eventually, stored_ids

pytestmark = pytest.mark.integration


async def stream_leader(bus, stream: str = "REQUESTS") -> str | None:
    try:
        return (await bus.js.stream_info(stream)).cluster.leader
    except Exception:  # no leader right now: the API times out or answers with an error
        return None


async def replica_current(bus, node: str, stream: str = "REQUESTS") -> bool:
    try:
        info = await bus.js.stream_info(stream)
    except Exception:
        return False
    peers = {p.name: p for p in info.cluster.replicas or []}
    return info.cluster.leader == node or (node in peers and peers[node].current and not peers[node].lag)


async def make_leader(bus, node: str, stream: str = "REQUESTS") -> bool:
    """Ask the stream leader to step down in favour of `node`; True once `node` leads."""
    if await stream_leader(bus, stream) == node:
        return True
    request = json.dumps({"placement": {"preferred": node}}).encode()
    try:
        await bus.nc.request(f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", request, timeout=2)
    except Exception:
        return False
    await asyncio.sleep(0.5)
    return await stream_leader(bus, stream) == node


async def effects_done(dsn: str, ids: set[str]) -> bool:
    return set(await effect_counts(dsn)) >= ids


async def test_stream_leader_killed_mid_load(cluster: NatsCluster, cluster_bus, database_url):
    bus, total = cluster_bus, 2000
    worker = await SupervisedWorker(cluster.urls, database_url, "f-leader", "--fast-ping", "--ack-wait", "3",
                                    "--credential", str(cluster.nodes["nats-1"].auth.seed_file("operator"))).start()
    try:
        loop = PublishLoop(bus, chunk=20)
        publishing = asyncio.create_task(loop.run(total, pace=0.005))
        await eventually(lambda: len(loop.acked) >= 600, 60, "600 events acknowledged by the cluster")
        old = await stream_leader(bus)
        cluster.kill(old)
        acked_at_kill = len(loop.acked)

        async def new_leader():
            leader = await stream_leader(bus)
            return leader if leader not in (None, old) else None

        elected = await eventually(new_leader, 60, "a new stream leader")
        await eventually(lambda: len(loop.acked) >= acked_at_kill + 400, 60, "publishing going on without the node")
        cluster.restart(old)
        async with asyncio.timeout(120):
            await publishing
        await eventually(lambda: replica_current(bus, old), 60, f"restarted {old} caught up")
        await eventually(lambda: make_leader(bus, old), 30, f"{old} leading again", interval=0.5)
        stored = await stored_ids(bus, "REQUESTS", PredictionRequested.topic)  # read from the restarted node
        await eventually(lambda: effects_done(database_url, set(loop.acked)), 90, "every event processed")
    finally:
        await worker.stop()
    effects = await effect_counts(database_url)
    lost = (set(loop.acked) - set(stored)) | (set(loop.acked) - set(effects))
    duplicated = {i for i, n in stored.items() if n > 1} | {i for i, n in effects.items() if n > 1}
    Tally("stream leader SIGKILL on a 3-node cluster", injected=f"SIGKILL {old} (leader) after {acked_at_kill} acks",
          published=loop.attempts, acked=len(loop.acked), processed=len(effects), lost=len(lost),
          duplicated=len(duplicated), extra={"new_leader": elected, "retry_rounds": loop.failed_rounds,
                                              "consumer_restarts": worker.restarts}).report()
    assert len(loop.acked) == total and not lost and not duplicated


async def test_node_frozen_and_resumed(cluster: NatsCluster, cluster_bus, database_url):
    bus, total = cluster_bus, 2000
    worker = await SupervisedWorker(cluster.urls, database_url, "f-pause", "--fast-ping", "--ack-wait", "3",
                                    "--credential", str(cluster.nodes["nats-1"].auth.seed_file("operator"))).start()
    try:
        loop = PublishLoop(bus, chunk=20)
        publishing = asyncio.create_task(loop.run(total, pace=0.005))
        await eventually(lambda: len(loop.acked) >= 600, 60, "600 events acknowledged by the cluster")
        frozen = await stream_leader(bus)
        cluster.nodes[frozen].pause()
        acked_at_pause = len(loop.acked)

        async def new_leader():
            leader = await stream_leader(bus)
            return leader if leader not in (None, frozen) else None

        elected = await eventually(new_leader, 60, "a new stream leader while one node is frozen")
        await eventually(lambda: len(loop.acked) >= acked_at_pause + 400, 60, "publishing going on")
        cluster.nodes[frozen].resume()
        async with asyncio.timeout(120):
            await publishing
        await eventually(lambda: replica_current(bus, frozen), 60, f"resumed {frozen} caught up")
        stored = await stored_ids(bus, "REQUESTS", PredictionRequested.topic)
        await eventually(lambda: effects_done(database_url, set(loop.acked)), 90, "every event processed")
    finally:
        await worker.stop()
    effects = await effect_counts(database_url)
    lost = (set(loop.acked) - set(stored)) | (set(loop.acked) - set(effects))
    duplicated = {i for i, n in stored.items() if n > 1} | {i for i, n in effects.items() if n > 1}
    Tally("node SIGSTOP + SIGCONT on a 3-node cluster",
          injected=f"SIGSTOP {frozen} (leader) after {acked_at_pause} acks",
          published=loop.attempts, acked=len(loop.acked), processed=len(effects), lost=len(lost),
          duplicated=len(duplicated), extra={"new_leader": elected, "retry_rounds": loop.failed_rounds,
                                              "consumer_restarts": worker.restarts}).report()
    assert len(loop.acked) == total and not lost and not duplicated


async def test_consumer_runner_outlives_its_consumer_leader(cluster: NatsCluster, cluster_bus):
    from infra.consumer import ConsumerRunner, ConsumerSpec
    from schemas import PredictionRequested

    handled = []

    async def handle(batch):
        handled.extend(item.event.id for item in batch)

    runner = ConsumerRunner(cluster_bus, ConsumerSpec("f-leader-loss", "REQUESTS", (PredictionRequested.topic,),
                                                      max_wait=0.2), handle)
    await runner.setup()
    leader = (await cluster_bus.js.consumer_info("REQUESTS", "f-leader-loss")).cluster.leader
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(1.0)
    cluster.kill(leader)
    loop = PublishLoop(cluster_bus, chunk=10)
    await loop.run(50)  # the loop goes on: published after the election, handled by the same runner
    try:
        await eventually(lambda: task.done() or set(loop.acked) <= set(handled), 60, "the runner handling new events")
        assert not task.done(), f"the runner exited: {task.exception()!r}"
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)


async def test_projector_outlives_the_audit_consumer_leader(cluster: NatsCluster, cluster_bus, database_url,
                                                            cluster_settings):
    """The projector runs on the shared runner: its consumer's leader killed mid-stream, it goes on, and the chain
    in PostgreSQL equals the stream afterwards."""
    from consumers.audit.projector import Projector
    from infra.db import connect_pool
    from schemas.streams import AUDIT
    from tests.faults.test_kill_projector import alert, caught_up
    from tests.integration.audit_helpers import signer_and_anchor, verify_trail

    bus, durable = cluster_bus, "audit-projector"
    pool = await connect_pool(database_url, max_size=2, run_migrations=False)
    signer, anchor = signer_and_anchor(cluster_settings)
    projector = Projector(bus, pool, signer, anchor=anchor, durable=durable, checkpoint_every=100, batch=50,
                          max_wait=0.2, ack_wait=5)
    stop = asyncio.Event()
    task = asyncio.create_task(projector.run(stop))
    try:
        loop = PublishLoop(bus, alert, chunk=20)
        await loop.run(300, pace=0.01)
        await eventually(lambda: projector.head_seq >= 300, 60, "the projector writing the first 300 events")
        leader = (await bus.js.consumer_info(AUDIT.name, durable)).cluster.leader
        head_at_kill = projector.head_seq
        cluster.kill(leader)
        await loop.run(900, pace=0.01)  # published after the kill: the election runs under load
        await eventually(lambda: task.done() or _caught_up(bus, database_url, caught_up), 120,
                         "the projector writing every event published after its consumer's leader died")
        assert not task.done(), f"the projector exited: {task.exception()!r}"
        new_leader = (await bus.js.consumer_info(AUDIT.name, durable)).cluster.leader
        verdict = await verify_trail(bus, pool, cluster_settings)
        written = {r["event_id"]: r["n"] for r in await pool.fetch(
            "SELECT event_id, count(*) AS n FROM audit_log GROUP BY event_id")}
    finally:
        stop.set()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    Tally("audit consumer leader SIGKILL under the projector", injected=f"SIGKILL {leader} at head {head_at_kill}",
          published=loop.attempts, acked=len(loop.acked), processed=len(written), lost=len(set(loop.acked) - set(written)),
          duplicated=sum(n > 1 for n in written.values()),
          extra={"new_leader": new_leader, "chain_ok": verdict.ok}).report()
    assert new_leader not in (None, leader)
    assert verdict.ok, verdict.text()
    assert set(loop.acked) <= set(written) and len(loop.acked) == 900 and max(written.values()) == 1


async def _caught_up(bus, dsn, caught_up) -> bool:
    try:
        return await caught_up(bus, dsn)
    except Exception:  # the API answers 503 while the consumer elects a leader
        return False
