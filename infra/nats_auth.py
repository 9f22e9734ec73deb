"""NATS identities: one nkey per service, per command role, for the auditor and for the operator.

Why nkeys, not user names and passwords: the server's configuration holds only public keys, so the users include
is no secret (it can sit in a config map or a repository); a client proves itself by signing the server's nonce,
so the seed never crosses the wire, even on a loopback connection without TLS; and a seed is an Ed25519 key,
where a bcrypt hash of a password in a leaked config can still be guessed at offline. Rotating one service is one
new seed and one changed line of the include (`driftline auth rotate NAME`, then a server reload).

A folder (`DATA_DIR/auth` for `driftline up`) holds `<identity>.nk` (the seed, mode 0600) for each identity and
`nats-users.conf`, the `authorization` block the server includes. What each identity may do is decided elsewhere
(driftline/bus_permissions.py, from the bus map); here it is only written down. Each identity's replies come on its
own inbox prefix, `_INBOX.<public key>`, and only that identity may subscribe there, so no service reads the
replies (JetStream deliveries, acknowledgements, API answers) of another.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import nkeys

if TYPE_CHECKING:
    from infra.settings import Settings

log = logging.getLogger(__name__)

OPERATOR = "operator"  # provisions streams; may do anything (driftline up, `driftline streams ensure`, tests)
AUDITOR = "auditor"  # reads AUDIT and nothing else, for tools outside
USERS_FILE = "nats-users.conf"
SEED_SUFFIX = ".nk"
INBOX = "_INBOX"
ANSWERS = "answers"  # replies to a Driftline-Reply-To request come on _INBOX.<key>.answers.<id>


@dataclass(frozen=True)
class Grants:
    """Subjects an identity may publish to and subscribe to (NATS wildcards)."""

    publish: frozenset[str] = frozenset()
    subscribe: frozenset[str] = frozenset()

    def __or__(self, other: Grants) -> Grants:
        return Grants(self.publish | other.publish, self.subscribe | other.subscribe)

    @classmethod
    def of(cls, publish: Iterable[str] = (), subscribe: Iterable[str] = ()) -> Grants:
        return cls(frozenset(publish), frozenset(subscribe))


EVERYTHING = Grants.of(publish=[">"], subscribe=[">"])


def new_seed() -> bytes:
    """A fresh user nkey seed (`SU...`)."""
    return nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)


def public_key(seed: bytes) -> str:
    pair = nkeys.from_seed(bytearray(seed.strip()))
    try:
        return pair.public_key.decode()
    finally:
        pair.wipe()


def inbox_prefix(key: str) -> str:
    """The only inbox prefix this identity may subscribe under (nats-py's `inbox_prefix`)."""
    return f"{INBOX}.{key}"


def answer_inbox(bus_inbox_prefix: str, token: str) -> str:
    """Where a Driftline-Reply-To answer is sent: a subtree the worker may publish to, apart from API replies."""
    return f"{bus_inbox_prefix}.{ANSWERS}.{token}"


def connect_options(seed_file: Path) -> dict[str, str]:
    """nats.connect() options that sign in with this seed and use its identity's inbox prefix."""
    return {"nkeys_seed": str(seed_file), "inbox_prefix": inbox_prefix(public_key(Path(seed_file).read_bytes()))}


def credential_for(settings: Settings, identity: str | None, *, warn: bool = True) -> Path | None:
    """The seed this process signs in with: DRIFTLINE_NATS_CREDENTIAL, else data_dir/auth/<identity>.nk when it
    exists, else None (said once in the log unless `warn` is off: only a server without authentication accepts
    that; a one-shot command says it in its one error line instead, if the server refuses)."""
    if settings.nats_credential:
        return Path(settings.nats_credential)
    found = AuthDir(settings.auth_dir).seed_file(identity) if identity else None
    if found is not None and found.exists():
        return found
    if warn:
        log.warning("no NATS credential%s: DRIFTLINE_NATS_CREDENTIAL is unset%s; connecting without one, which a "
                    "server with authentication refuses", f" for {identity}" if identity else "",
                    f" and there is no {found}" if found else "")
    return None


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically (a reader never sees half a seed)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class AuthDir:
    """The credentials folder: one seed per identity and the server's users include."""

    def __init__(self, path: Path):
        self.path = Path(path).resolve()

    @property
    def users_file(self) -> Path:
        return self.path / USERS_FILE

    def seed_file(self, identity: str) -> Path:
        return self.path / f"{identity}{SEED_SUFFIX}"

    def public_key(self, identity: str) -> str:
        return public_key(self.seed_file(identity).read_bytes())

    def options(self, identity: str) -> dict[str, str]:
        """nats.connect() options of one identity (tests and tools that connect without a Bus)."""
        return connect_options(self.seed_file(identity))

    def ensure(self, identities: Iterable[str]) -> list[str]:
        """Make a seed for each identity that has none (existing ones are kept); returns the new ones."""
        self.path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)
        made = []
        for identity in identities:
            if not self.seed_file(identity).exists():
                _write_private(self.seed_file(identity), new_seed())
                made.append(identity)
        return made

    def rotate(self, identity: str) -> str:
        """A new seed for one identity; returns its public key (the users include must be rewritten and reloaded)."""
        if not self.seed_file(identity).exists():
            raise FileNotFoundError(f"no credential {self.seed_file(identity)} to rotate")
        _write_private(self.seed_file(identity), new_seed())
        return self.public_key(identity)

    def write_users(self, grants: dict[str, Grants]) -> Path:
        """Write the server's `authorization` include for these identities (each must have a seed)."""
        entries = [(identity, self.public_key(identity), g) for identity, g in sorted(grants.items())]
        _write_private(self.users_file, render_users(entries).encode())
        return self.users_file


def _subjects(subjects: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(s) for s in sorted(subjects)) + "]"  # quoted: `$JS...` is no variable


def render_users(entries: Iterable[tuple[str, str, Grants]]) -> str:
    """The `authorization { users = [...] }` block: for each (identity, public key, grants), its permissions plus
    subscribe rights on its own inbox prefix. Anyone without one of these keys is refused at connect."""
    lines = ["# Generated by driftline (infra/nats_auth.py) from driftline/bus_map.py: edit the map, not this file.",
             "# Public keys only: nothing here is secret.", "authorization {", "  users = ["]
    for identity, key, grants in entries:
        subscribe = grants.subscribe if ">" in grants.subscribe else grants.subscribe | {f"{inbox_prefix(key)}.>"}
        lines += [f"    # {identity}",
                  f"    {{nkey: {json.dumps(key)}, permissions: {{",
                  f"      publish: {{allow: {_subjects(grants.publish)}}},",
                  f"      subscribe: {{allow: {_subjects(subscribe)}}}",
                  "    }}"]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"
