"""The compose cluster's TLS, end to end on loopback: certificates from infra/compose/init.sh, a nats-server with
the config container_configs renders, and the bus client trusting them through SSL_CERT_FILE alone, as every
container does (docker-compose.yml); without that bundle the same client refuses the server."""

from __future__ import annotations

import ssl

import pytest

from infra.bus import Bus
from infra.nats_server import nats_server_binary, render_config
from infra.processes import free_port, spawn, stop, wait_for_port
from tests.unit.test_deploy_config_topology import run_init

pytestmark = pytest.mark.integration


@pytest.fixture
def tls_server(tmp_path):
    made = run_init(tmp_path / "init")
    port = free_port()
    config = tmp_path / "nats.conf"
    config.write_text(render_config(host="127.0.0.1", port=port, store_dir=tmp_path / "js", server_name="nats-1",
                                    tls_dir=made / "nats-tls"))
    proc = spawn([nats_server_binary(), "-c", str(config)], log_path=tmp_path / "nats.log")
    wait_for_port("127.0.0.1", port, 20, proc, what="nats-server")
    yield f"tls://localhost:{port}", made
    stop(proc)


async def test_a_client_with_the_bundle_uses_jetstream_over_tls(tls_server, monkeypatch):
    url, made = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(made / "trust/ca-bundle.pem"))
    bus = await Bus.connect(url, name="tls-test", allow_reconnect=False, connect_timeout=5)
    try:
        assert bus.nc._server_info.get("tls_required") is True
        assert (await bus.js.account_info()).limits is not None
    finally:
        await bus.close()


async def test_a_client_without_the_bundle_refuses_the_server(tls_server, monkeypatch):
    url, _ = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", ssl.get_default_verify_paths().openssl_cafile)  # public CAs only
    with pytest.raises(Exception) as refused:
        bus = await Bus.connect(url, name="tls-test", allow_reconnect=False, connect_timeout=5)
        await bus.close()
    assert "CERTIFICATE_VERIFY_FAILED" in repr(refused.value) or "certificate verify failed" in str(refused.value)
