"""Child processes that never outlive their parent, and waiting for a port to answer."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int):
    def setup() -> None:
        # Linux: the kernel sends `sig` to the child when its parent dies, even by SIGKILL.
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        except OSError:
            pass

    return setup


def spawn(
    cmd: Sequence[str],
    *,
    death_signal: int = signal.SIGTERM,
    log_path: os.PathLike | None = None,
    **kwargs,
) -> subprocess.Popen:
    """Start a child process that receives `death_signal` if this process dies."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115 (owned by the child)
    return subprocess.Popen(
        list(cmd),
        stdout=out,
        stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent(death_signal),
        **kwargs,
    )


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Ask a child to stop, then kill it if it does not within `timeout`."""
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "") -> None:
    """Wait until something accepts connections on host:port; fail early if `proc` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what or proc.args[0]} exited with code {proc.returncode} before it listened")
        time.sleep(0.05)
    raise TimeoutError(f"{what or 'server'} did not listen on {host}:{port} within {timeout:.0f}s")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
