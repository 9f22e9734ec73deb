"""The smoke test's steps that need more than curl, for scripts/topology.sh.

Host steps (standard library only, through the published loopback ports; /predict is scripts/deploy_smoke.py's):
  decide PAGE USER PASSWORD       sign in on the approval page (choosing a password when the first one is
                                  one-time), wait for a pending retrain, open it, POST its decide form with the
                                  CSRF token and action hash; prints the approval id and the incident's id
  predict-traced GATEWAY          one /predict (the key: DRIFTLINE_SMOKE_API_KEY) carrying a W3C traceparent with
                                  a new trace id, as a caller already tracing would send it; prints the trace id
Container steps (run in a one-off container of the Driftline image on the stack's network, which the NATS
client port is not published to; they read the same DRIFTLINE_* settings as every service):
  bus-request                     one prediction request over the bus, answered on a private inbox
  traces VIEWER TRACE_ID          one more bus request, published in a trace of its own; then both traces read back
                                  from the trace viewer's REST API (VIEWER, e.g. http://phoenix:6006): the /predict
                                  one must hold the gateway's span and a consumer's across the bus, the bus one the
                                  worker's; prints the span names of each
  leader-stop SECONDS RATE        publish prediction requests at RATE/s for SECONDS; print the leader of the
                                  REQUESTS stream as `LEADER <node>` after a third of the time (the host kills that
                                  container then); retry each unacknowledged publish with the same Nats-Msg-Id; at
                                  the end read the stream back and print the tallies as JSON
Every step prints one JSON line last and exits non-zero when its check fails.
"""

from __future__ import annotations

import html
import http.cookiejar
import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def out(**fields) -> None:
    print(json.dumps(fields, default=str), flush=True)


def fail(message: str) -> None:
    print(f"smoke: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- host: the approval page -----------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
HASH = re.compile(r'name="action_hash" value="([^"]+)"')
PENDING = re.compile(r'href="/approvals/([^"]+)">retrain ')  # the page words it "retrain <model>" (ui/words.py)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # keep 303s visible: where they point is the answer
        return None


class Page:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
                                                  NoRedirect)

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=10) as reply:
            return reply.read().decode()

    def post(self, path: str, form: dict) -> tuple[int, str]:
        data = urllib.parse.urlencode(form).encode()
        try:
            with self.opener.open(urllib.request.Request(self.base + path, data=data), timeout=30) as reply:
                return reply.status, reply.headers.get("Location", "")
        except urllib.error.HTTPError as exc:  # 303 (not followed) and refusals
            return exc.code, exc.headers.get("Location", "") or exc.read().decode()[:300]

    def csrf(self, path: str) -> str:
        found = CSRF.search(self.get(path))
        if not found:
            fail(f"no CSRF token on {path}")
        return html.unescape(found[1])


def decide(page_url: str, user: str, password: str, wait_s: float = 420) -> None:
    page = Page(page_url)
    status, where = page.post("/login", {"username": user, "password": password, "csrf_token": page.csrf("/login"),
                                         "next": "/"})
    if status != 303:
        fail(f"sign-in answered {status}: {where}")
    if where.endswith("/password"):  # a one-time password: choose one, as a person would at first sign-in
        chosen = password + "-chosen"
        status, _ = page.post("/password", {"password": chosen, "repeat": chosen, "csrf_token": page.csrf("/password")})
        if status != 303:
            fail(f"choosing a password answered {status}")
    started, approval_id = time.monotonic(), None
    while approval_id is None:
        found = PENDING.search(page.get("/"))
        if found:
            approval_id = found[1]
        elif time.monotonic() - started > wait_s:
            fail(f"no retrain approval pending on the page after {wait_s:.0f}s")
        else:
            time.sleep(2)
    waited = time.monotonic() - started
    detail = page.get(f"/approvals/{approval_id}")
    token, action_hash = CSRF.search(detail), HASH.search(detail)
    if not (token and action_hash):
        fail(f"/approvals/{approval_id} has no decide form")
    status, where = page.post(f"/approvals/{approval_id}/decide", {
        "decision": "approve", "comment": "smoke test: retrain on the drifted data",
        "action_hash": html.unescape(action_hash[1]), "csrf_token": html.unescape(token[1])})
    if status != 303 or "/incidents/" not in where:
        fail(f"decide answered {status}: {where}")
    out(step="decide", approval_id=approval_id, correlation_id=where.rsplit("/", 1)[1],
        waited_for_pending_s=round(waited, 1))


def predict_traced(gateway: str) -> None:
    trace_id = secrets.token_hex(16)
    with urllib.request.urlopen(f"{gateway}/model", timeout=10) as reply:
        features = {name: 1.0 for name in json.load(reply)["features"]}
    request = urllib.request.Request(f"{gateway}/predict", data=json.dumps({"features": features}).encode(), headers={
        "Content-Type": "application/json", "X-API-Key": os.environ["DRIFTLINE_SMOKE_API_KEY"],
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})  # sampled: the gateway continues it
    with urllib.request.urlopen(request, timeout=15) as reply:
        answer = json.load(reply)
    out(step="predict-traced", trace_id=trace_id, model_version=answer.get("model_version"))


# --- container: the bus ----------------------------------------------------------------------------------------

async def _bus():
    from infra.bus import Bus
    from infra.nats_auth import credential_for
    from infra.settings import Settings

    settings = Settings()  # DRIFTLINE_NATS_CREDENTIAL: the container's (the operator's, in compose's `streams`)
    return settings, await Bus.connect(settings.resolved_nats_url, name="driftline-smoke",
                                       credential=credential_for(settings, None))


def _features(settings) -> list[dict]:
    from producers.traffic_source import load_traffic_source

    frame, target, _ = load_traffic_source(settings)
    return frame.drop(columns=[target]).head(50).to_dict("records")


async def bus_request() -> None:
    from producers.publisher import request_and_wait

    settings, bus = await _bus()
    try:
        started = time.monotonic()
        made = await request_and_wait(bus, _features(settings)[0], model=settings.model_name, timeout=30)
        took_ms = (time.monotonic() - started) * 1000
        server = bus.nc.connected_url.netloc if bus.nc.connected_url else "?"
    finally:
        await bus.close()
    if made.type != "driftline.prediction.made.v1":
        fail(f"the bus answered {made.type}: {made.data}")
    out(step="bus-request", type=made.type, model_version=made.data.model_version, ms=round(took_ms, 1),
        server=server, tls=bool(bus.nc._server_info.get("tls_required")))


PROJECT = "driftline"  # compose's OTEL_RESOURCE_ATTRIBUTES: openinference.project.name, the viewer's project


def viewer_spans(viewer: str, trace_id: str) -> list[str]:
    """The names of the trace's spans the viewer holds (Phoenix's REST API: spans of a project, by trace id)."""
    query = urllib.parse.urlencode({"trace_id": trace_id, "limit": 1000})
    try:
        with urllib.request.urlopen(f"{viewer}/v1/projects/{PROJECT}/spans/otlpv1?{query}", timeout=10) as reply:
            return sorted(span["name"] for span in json.load(reply)["data"])
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # no span of the project has arrived yet
            return []
        raise


async def traces(viewer: str, predict_trace: str, wait_s: float = 90) -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from infra import tracing
    from producers.publisher import request_and_wait

    # A tracer of our own, exporting nowhere: the request is published inside its span, so the bus carries that
    # context in its traceparent header as any traced producer's would, and the worker continues the trace.
    tracing.install(TracerProvider())
    settings, bus = await _bus()
    try:
        with tracing.tracer().start_as_current_span("smoke bus-request") as span:
            bus_trace = format(span.get_span_context().trace_id, "032x")
            made = await request_and_wait(bus, _features(settings)[0], model=settings.model_name, timeout=30)
    finally:
        await bus.close()
        tracing.uninstall()
    if made.type != "driftline.prediction.made.v1":
        fail(f"the bus answered {made.type}: {made.data}")

    def complete(names: dict[str, list[str]]) -> bool:
        predict, request = names["predict"], names["bus"]
        return ("POST /predict" in predict and any(n.endswith(" process") for n in predict)
                and any(n.startswith("inference-worker ") for n in request))

    started = time.monotonic()
    while True:  # services export every 5 s (the SDK's batch delay); the viewer stores what it receives at once
        names = {"predict": viewer_spans(viewer, predict_trace), "bus": viewer_spans(viewer, bus_trace)}
        if complete(names) or time.monotonic() - started > wait_s:
            break
        time.sleep(2)
    out(step="traces", viewer=viewer, project=PROJECT, waited_s=round(time.monotonic() - started, 1),
        predict_trace={"trace_id": predict_trace, "spans": names["predict"]},
        bus_trace={"trace_id": bus_trace, "spans": names["bus"]})
    if not complete(names):
        fail("the viewer lacks a hop: /predict's trace needs the gateway's `POST /predict` and a consumer's "
             "`<durable> process` span, the bus request's an `inference-worker` span")


async def leader_stop(seconds: float, rate: float) -> None:
    import asyncio

    from infra.stream_reader import read_stream
    from producers.publisher import request_event
    from schemas.streams import REQUESTS

    settings, bus = await _bus()
    rows = _features(settings)
    run = f"leader-stop-{int(time.time())}"
    acked: dict[str, int] = {}
    failed: list[str] = []
    published = 0
    errors: dict[str, int] = {}
    in_flight = asyncio.Semaphore(500)

    waits: list[float] = []  # first attempt to acknowledgement, per message: the outage a publisher sees

    async def send(event) -> None:
        first = time.monotonic()
        deadline = first + 60  # a new leader is elected within seconds; 60 s is plenty
        async with in_flight:
            while True:
                try:
                    ack = await bus.publish(event)
                    acked[event.id] = ack.seq
                    waits.append(time.monotonic() - first)
                    return
                except Exception as exc:  # timeout or no responders while the stream elects a leader
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    if time.monotonic() > deadline:
                        failed.append(event.id)
                        return
                    await asyncio.sleep(0.25)

    info = await bus.js.stream_info(REQUESTS.name)
    first_seq = info.state.last_seq + 1
    tasks, announced, killed, started = [], False, None, time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        if not announced and elapsed >= seconds / 3:
            killed = (await bus.js.stream_info(REQUESTS.name)).cluster.leader
            print(f"LEADER {killed}", flush=True)  # the host kills this node now
            announced = True
        event = request_event(rows[published % len(rows)], model=settings.model_name,
                              request_id=f"{run}-{published}")
        tasks.append(asyncio.create_task(send(event)))
        published += 1
        await asyncio.sleep(max(0.0, started + published / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    after = await bus.js.stream_info(REQUESTS.name)
    stored: dict[str, int] = {}
    async for msg in read_stream(bus.js, REQUESTS.name, start_seq=first_seq):
        msg_id = msg.headers.get("Nats-Msg-Id", "")
        if msg_id in acked or msg_id in failed:
            stored[msg_id] = stored.get(msg_id, 0) + 1
    await bus.close()
    lost = sorted(set(acked) - set(stored))
    duplicated = sum(1 for n in stored.values() if n > 1)
    out(step="leader-stop", published=published, acked=len(acked), not_acked=len(failed), lost=len(lost),
        stored=len(stored), duplicated=duplicated, publish_errors_retried=errors,
        ack_wait_s={"p50": _quantile(waits, 0.5), "p99": _quantile(waits, 0.99), "max": _quantile(waits, 1.0)},
        leader_killed=killed, leader_after=after.cluster.leader,
        replicas_after=[r.name for r in (after.cluster.replicas or [])], seconds=seconds, rate=rate)
    if lost or duplicated or after.cluster.leader == killed:
        fail(f"lost {len(lost)} acknowledged messages ({lost[:5]}), {duplicated} stored twice, "
             f"leader {killed} -> {after.cluster.leader}")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return
    import asyncio

    command, args = argv[0], argv[1:]
    if command == "decide":
        decide(*args)
    elif command == "predict-traced":
        predict_traced(*args)
    elif command == "bus-request":
        asyncio.run(bus_request())
    elif command == "traces":
        asyncio.run(traces(*args))
    elif command == "leader-stop":
        asyncio.run(leader_stop(float(args[0]), float(args[1])))
    else:
        fail(f"unknown step {command!r}; see --help")


if __name__ == "__main__":
    main(sys.argv[1:])
