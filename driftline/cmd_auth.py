"""`driftline auth`: the NATS credentials, one per service and command role, an auditor and an operator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from driftline.common import DataDir, JsonFlag, load_settings, usage

app = typer.Typer(help="NATS credentials (nkeys) with permissions derived from the bus map.", no_args_is_help=True)

DirArgument = Annotated[Optional[Path], typer.Argument(
    metavar="[DIR]", help="Folder of the credentials (default: DATA_DIR/auth, where `driftline up` keeps them).")]


def write_credentials(folder: Path, settings) -> tuple[list[str], Path]:
    """Seeds for every identity that has none (existing ones are kept) and the users include, rewritten from the
    bus map; returns the identities given a new seed and the include's path."""
    from driftline.bus_permissions import identities, permissions
    from infra.nats_auth import AuthDir

    auth = AuthDir(folder)
    made = auth.ensure(identities())
    return made, auth.write_users(permissions(settings))


@app.command()
def init(directory: DirArgument = None, data_dir: DataDir = None) -> None:
    """Write a seed (<identity>.nk, mode 0600) for each service, command role, the auditor and the operator, and
    nats-users.conf, the permissions the NATS server includes (public keys only). Safe to run again: seeds are kept,
    the include follows the current bus map. A deployment's init job runs this, then `driftline streams ensure`."""
    settings = load_settings(data_dir)
    folder = directory or settings.auth_dir
    made, include = write_credentials(folder, settings)
    typer.echo(f"{len(made)} new credential(s) in {Path(folder).resolve()}: {', '.join(made) or 'none needed'}")
    typer.echo(f"server include: {include} (nats-server: include it from the server's configuration)")


@app.command()
def rotate(
    identity: Annotated[str, typer.Argument(help="The identity whose seed is replaced (a service, a role, auditor).")],
    directory: DirArgument = None,
    data_dir: DataDir = None,
) -> None:
    """Replace one identity's seed and rewrite the include. Then reload the NATS servers (`nats-server --signal
    reload`, or SIGHUP) and restart that service: its old seed is refused from then on."""
    from driftline.bus_permissions import identities, permissions
    from infra.nats_auth import AuthDir

    if identity not in identities():
        usage(f"unknown identity {identity!r}; choose one of: {', '.join(identities())}")
    settings = load_settings(data_dir)
    auth = AuthDir(directory or settings.auth_dir)
    try:
        key = auth.rotate(identity)
    except FileNotFoundError as exc:
        usage(f"{exc}; run `driftline auth init` first")
    auth.write_users(permissions(settings))
    typer.echo(f"{identity}: new public key {key}; reload the NATS servers, then restart {identity}")


@app.command()
def show(
    identity: Annotated[Optional[str], typer.Argument(help="One identity (default: all).")] = None,
    directory: DirArgument = None,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """What each identity may publish and subscribe to, as derived from the bus map, and its inbox prefix."""
    from driftline.bus_permissions import permissions
    from infra.nats_auth import AuthDir, inbox_prefix

    settings = load_settings(data_dir)
    auth = AuthDir(directory or settings.auth_dir)
    table = permissions(settings)
    if identity is not None and identity not in table:
        usage(f"unknown identity {identity!r}; choose one of: {', '.join(table)}")
    out = {}
    for name, grants in table.items():
        if identity in (None, name):
            seed = auth.seed_file(name)
            out[name] = {"publish": sorted(grants.publish), "subscribe": sorted(grants.subscribe),
                         "credential": str(seed) if seed.exists() else None,
                         "inbox_prefix": inbox_prefix(auth.public_key(name)) if seed.exists() else None}
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for name, entry in out.items():
        typer.echo(f"{name}  ({entry['credential'] or 'no credential yet'}; inbox prefix {entry['inbox_prefix']})")
        typer.echo("  publish:   " + ("\n             ".join(entry["publish"]) or "nothing"))
        typer.echo("  subscribe: " + ("\n             ".join(entry["subscribe"]) or "its own inbox only"))
