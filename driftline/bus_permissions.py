"""Each NATS identity's permissions, derived from the bus map (driftline/bus_map.py) and nothing else.

A service may publish the subjects of the events the map says it publishes and dead-letter from its own durables;
run its own durables and nothing else of consumers; read (by direct get) the streams the map says it reads; listen to
the subjects it follows; purge only what the map lets it purge; check that the streams exist. A command role
(producers, trainer, reports) is the same for its command. The auditor reads AUDIT and nothing else. Only the
operator creates, changes, purges or deletes streams. tests/unit/test_bus_permissions.py holds the map to this.
"""

from __future__ import annotations

from collections.abc import Iterable

from driftline import bus_map
from driftline.services import SERVICES
from infra import nats_grants as grant
from infra.nats_auth import AUDITOR, EVERYTHING, OPERATOR, Grants
from infra.settings import Settings
from schemas.streams import ALL_STREAMS, AUDIT

# Who runs as which identity: each service as itself; the commands by role (approvals and users need no bus).
COMMAND_ROLES = {"publish": "producers", "simulate": "producers", "train": "trainer", "report": "reports",
                 "audit": AUDITOR, "streams": OPERATOR, "up": OPERATOR}


def identities() -> tuple[str, ...]:
    """Every identity a credential is made for: the services, the command roles, the auditor, the operator."""
    names = [*SERVICES, *bus_map.COMMANDS, *bus_map.READS, AUDITOR, OPERATOR]
    return tuple(dict.fromkeys(names))


def _union(parts: Iterable[Grants]) -> Grants:
    total = Grants()
    for part in parts:
        total = total | part
    return total


def permissions(settings: Settings | None = None) -> dict[str, Grants]:
    """Identity -> what it may publish and subscribe to (its own inbox is added when the credential is written)."""
    settings = settings or Settings()
    subscriptions = bus_map.subscriptions(settings)
    publishes = {name: classes for name, classes in bus_map.PUBLISHES.items()}
    publishes |= {name: classes for name, (_, classes) in bus_map.COMMANDS.items()}
    out: dict[str, Grants] = {}
    for identity in identities():
        if identity == OPERATOR:
            out[identity] = EVERYTHING
            continue
        parts = [grant.publish(cls.topic for cls in publishes.get(identity, ()))]
        for sub in subscriptions:
            if sub.service == identity:
                parts.append(grant.durable(sub.stream, sub.durable) if sub.durable else grant.listen(sub.subjects))
                if sub.subjects == (bus_map.CONFIG_SUBJECT,):  # the runtime config in force is read at start
                    parts.append(grant.last_message(sub.stream, sub.subjects))
        parts += [grant.reader(stream) for stream in bus_map.READS.get(identity, ())]
        parts.append(grant.listen(bus_map.LISTENS.get(identity, ())))
        parts += [grant.purge(stream) for stream in bus_map.PURGES.get(identity, ())]
        if identity in bus_map.ANSWERS:
            parts.append(grant.answer_requests())
        if identity == AUDITOR:  # AUDIT and nothing else: not even whether the other streams exist
            parts += [grant.stream_check([AUDIT.name]), grant.consumer_state(AUDIT.name)]  # verify: projector's lag
        else:
            parts += [grant.stream_check(spec.name for spec in ALL_STREAMS), grant.account_info()]
        out[identity] = _union(parts)
    return out
