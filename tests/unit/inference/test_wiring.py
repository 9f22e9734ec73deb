"""The gateway wiring serves the webhook receivers, and importing a service's wiring changes nothing global."""

from __future__ import annotations

import asyncio
import importlib

from driftline.services import SERVICES
from infra.settings import Settings


def test_gateway_includes_the_webhook_routes(tmp_path):
    from driftline.run_gateway import extra_routers

    paths = {route.path for router in extra_routers(Settings(data_dir=tmp_path), bus=None) for route in router.routes}
    assert {"/webhooks/alertmanager", "/webhooks/evidently"} <= paths


def test_uvloop_is_chosen_when_a_service_starts_not_when_its_module_is_imported():
    policy = asyncio.get_event_loop_policy()
    for service in SERVICES.values():
        importlib.import_module(service.target.partition(":")[0])
    assert asyncio.get_event_loop_policy() is policy
    assert SERVICES["gateway"].loop_factory() is not None and SERVICES["worker"].loop_factory() is not None
    assert SERVICES["projector"].loop_factory() is None
    loop = SERVICES["worker"].loop_factory()()
    try:
        assert type(loop).__module__.startswith("uvloop")
    finally:
        loop.close()
