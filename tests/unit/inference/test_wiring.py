"""The gateway wiring serves the webhook receivers when producers/webhooks.py is built."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from infra.settings import Settings


@pytest.mark.skipif(importlib.util.find_spec("producers.webhooks") is None, reason="webhooks not built")
def test_gateway_includes_the_webhook_routes(tmp_path):
    policy = asyncio.get_event_loop_policy()
    try:
        from driftline.run_gateway import extra_routers  # importing installs uvloop for `driftline serve`
    finally:
        asyncio.set_event_loop_policy(policy)  # leave the other tests on their loop
    paths = {route.path for router in extra_routers(Settings(data_dir=tmp_path), bus=None) for route in router.routes}
    assert {"/webhooks/alertmanager", "/webhooks/evidently"} <= paths
