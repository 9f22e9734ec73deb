"""A report build is a process of the notifier's: when the notifier stops (its task cancelled), the build stops too
(a build that outlived `driftline up` was found still running after Ctrl-C)."""

from __future__ import annotations

import asyncio
import os

import psutil
import pytest

from driftline import report_process
from infra.settings import Settings


async def test_a_cancelled_build_takes_its_process_with_it(tmp_path, monkeypatch):
    slow = tmp_path / "slow-build"
    slow.write_text(f"#!/bin/sh\necho $$ > {tmp_path / 'pid'}\nexec sleep 120\n")
    slow.chmod(0o755)
    monkeypatch.setattr(report_process.sys, "executable", str(slow))  # a real process that builds nothing, slowly
    task = asyncio.create_task(report_process.ReportProcess(Settings(data_dir=tmp_path)).ensure("drift", "a1"))
    for _ in range(200):
        if (tmp_path / "pid").exists() and (tmp_path / "pid").read_text().strip():
            break
        await asyncio.sleep(0.05)
    pid = int((tmp_path / "pid").read_text())
    assert psutil.pid_exists(pid)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, os.getpid()
