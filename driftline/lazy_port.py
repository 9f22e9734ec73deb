"""A port whose server starts on first use. `driftline up` holds the MLflow UI's port this way: the UI costs about
250 MB resident (measured with bench/soak.py) and most runs never open it, so it starts when someone first connects,
and from then on every connection is piped to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable

log = logging.getLogger("driftline.up")
CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class LazyPort:
    """Listens on (host, port) at once (a taken port fails `up` at start, as any other); the first connection calls
    `start()` (in a worker thread: it starts the server and returns where it listens), later ones reuse it."""

    def __init__(self, host: str, port: int, start: Callable[[], tuple[str, int]], what: str):
        self.host, self.port, self.start, self.what = host, port, start, what
        self._target: tuple[str, int] | None = None
        self._loop = asyncio.new_event_loop()
        self._sock = socket.create_server((host, port))
        self._thread = threading.Thread(target=self._run, name=f"lazy-{what}", daemon=True)
        self._ready = threading.Event()

    @property
    def started(self) -> bool:
        return self._target is not None

    def open(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def close(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        self._sock.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._lock = asyncio.Lock()
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, sock=self._sock))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _backend(self) -> tuple[str, int]:
        async with self._lock:  # one start, however many connections arrive meanwhile
            if self._target is None:
                log.info("starting the %s on its first visit", self.what)
                self._target = await asyncio.to_thread(self.start)
            return self._target

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            host, port = await self._backend()
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except Exception as exc:  # the server could not start or died: say so, and start it again next time
            self._target = None
            body = f"The {self.what} is not available: {exc}\n".encode()
            writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\nconnection: close\r\n"
                         b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            with contextlib.suppress(Exception):
                await writer.drain()
                writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
