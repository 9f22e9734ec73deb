"""Bodies bounded before they are read: the real gateway (uvicorn, /predict and both webhooks) answers 413 to a body
over its bound having read no more than the bound, whether the length is declared or the body is chunked."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from inference.gateway import create_app
from inference.model_holder import ModelHolder
from infra.processes import free_port
from infra.web_server import serve_app
from producers.webhooks import build_router
from tests.unit.inference.models import memory_model

pytestmark = pytest.mark.integration
LIMIT = 64 * 1024
ROUTES = {"/predict": {}, "/webhooks/alertmanager": {"authorization": "Bearer am-token"},
          "/webhooks/evidently": {"webhook-id": "msg_1", "webhook-timestamp": "1700000000",
                                  "webhook-signature": "v1,AAAA"}}


@contextlib.asynccontextmanager
async def gateway(settings, bus):
    settings = settings.model_copy(update=dict(
        gateway_max_body_bytes=LIMIT, webhook_max_body_bytes=LIMIT, alertmanager_token=SecretStr("am-token"),
        evidently_webhook_secret=SecretStr("whsec_c2VjcmV0LWtleS1mb3ItdGVzdHM=")))
    holder = ModelHolder(settings)
    holder.swap(memory_model(version="4"))
    port, stop = free_port(), asyncio.Event()
    serving = asyncio.create_task(serve_app(create_app(settings, bus, holder, [build_router(settings, bus)]),
                                            "127.0.0.1", port, stop))
    for _ in range(100):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        await asyncio.sleep(0.05)
    try:
        yield port
    finally:
        stop.set()
        await serving


async def send(port: int, path: str, headers: dict, *, declared: int | None, chunks: int) -> tuple[int, int, str]:
    """POST `chunks` chunks of 16 KiB (a Content-Length of `declared`, or chunked encoding if None) as long as the
    server reads; (status, bytes the server let us write, response head)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json",
            *(f"{k}: {v}" for k, v in headers.items())]
    head.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    sent, piece = 0, b"[" + b"1," * 8191 + b"1"
    answer = asyncio.create_task(reader.readuntil(b"\r\n\r\n"))
    for _ in range(chunks):
        if answer.done():
            break
        data = piece if declared is not None else f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        try:
            writer.write(data)
            await asyncio.wait_for(writer.drain(), 0.5)
        except (ConnectionError, TimeoutError):
            break
        sent += len(piece)
        await asyncio.sleep(0.01)
    response = (await asyncio.wait_for(answer, 10)).decode()
    writer.close()
    return int(response.split()[1]), sent, response


def refused(source: str) -> float:
    return REGISTRY.get_sample_value("driftline_webhook_refused_total", {"source": source, "reason": "too large"}) or 0


@pytest.mark.parametrize("path", sorted(ROUTES))
async def test_an_oversized_body_gets_413_before_it_is_read(settings, bus, path):
    before = {s: refused(s) for s in ("alertmanager", "evidently")}
    async with gateway(settings, bus) as port:
        # 50 MiB announced: refused on the headers alone, before a byte of the body
        status, _, response = await send(port, path, ROUTES[path], declared=50 * 1024**2, chunks=0)
        assert status == 413 and "connection: close" in response.lower()
        # chunked, 16 MiB on offer: refused once past the bound, the rest never read
        status, sent, _ = await send(port, path, ROUTES[path], declared=None, chunks=1024)
        assert status == 413 and sent < 2 * 1024**2, sent  # socket buffers hold some; never the 16 MiB
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:  # and it goes on serving
            assert (await client.get("/health")).status_code == 200
    if path != "/predict":
        source = path.rsplit("/", 1)[1]
        assert refused(source) == before[source] + 2
