"""A small HTTP/1.1 keep-alive load generator on asyncio streams (cheaper per request than an HTTP client library,
so the server, not the generator, is what gets measured)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] * 1000

    def line(self, name: str) -> str:
        return (f"{name:<34} {self.rps:9.0f} req/s   p50 {self.percentile(50):7.2f} ms   "
                f"p99 {self.percentile(99):7.2f} ms   errors {self.errors}")


def http_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(host, port, request: bytes, stop_at: float, measure_from: float, result: LoadResult) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            start = time.perf_counter()
            if start >= stop_at:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            end = time.perf_counter()
            if start < measure_from:  # warm-up
                continue
            result.requests += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.errors += 1
            result.latencies.append(end - start)
    finally:
        writer.close()


async def run_load(host: str, port: int, request: bytes, *, connections: int, seconds: float,
                   warmup: float = 1.0) -> LoadResult:
    """Closed loop: each connection sends its next request when the previous answer is in."""
    result = LoadResult()
    now = time.perf_counter()
    measure_from, stop_at = now + warmup, now + warmup + seconds
    await asyncio.gather(*(_connection(host, port, request, stop_at, measure_from, result)
                           for _ in range(connections)))
    result.seconds = seconds
    return result
