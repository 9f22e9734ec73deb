"""The checkpoint key: the projector alone signs the heads it vouches for; `audit verify` checks with public keys.

The private key is the projector's own (not the approvals key): DRIFTLINE_AUDIT_CHECKPOINT_KEY, else
data_dir/keys/audit-checkpoint.key, made once by the projector (mode 0600; in a deployment only the projector's
container gets it). Checkers need only public keys: DRIFTLINE_AUDIT_VERIFY_KEYS, else
data_dir/keys/audit-checkpoint.pub and every key retired by `driftline audit rotate-key` under
data_dir/keys/audit-checkpoint.retired/. Nothing here ever makes a key for a checker: a missing public key is a
failed verification, not a fresh key that would vouch for anything.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from infra.keys import Signer, Verifier, load_or_create
from infra.settings import Settings
from schemas.audit import Checkpoint, signed_bytes

KEY_FILE = "audit-checkpoint.key"
RETIRED_DIR = "audit-checkpoint.retired"


def key_id(public: str) -> str:
    """The first 16 hex digits of the sha256 of the raw public key (what a checkpoint names its signer by)."""
    return hashlib.sha256(Verifier.from_text(public).key.public_bytes_raw()).hexdigest()[:16]


def checkpoint_signer(settings: Settings) -> Signer:
    """The projector's private key: the setting, else the file in data_dir/keys (created once)."""
    if settings.audit_checkpoint_key is not None:
        return Signer.from_text(settings.audit_checkpoint_key.get_secret_value())
    return load_or_create(settings.keys_dir / KEY_FILE)


def sign(signer: Signer, last_sequence: int, head_hash: str, events: int) -> Checkpoint:
    """A checkpoint payload signed by `signer` (Ed25519 is deterministic: the same head gives the same bytes)."""
    kid = key_id(signer.public)
    return Checkpoint(last_sequence=last_sequence, head_hash=head_hash, events=events, key_id=kid,
                      signature=signer.sign(signed_bytes(last_sequence, head_hash, events, kid)))


@dataclass(frozen=True)
class Keyring:
    """The public keys a checker accepts checkpoints from, by key id; `where` says where they were looked for."""

    keys: dict[str, Verifier]
    where: str = ""

    @classmethod
    def of(cls, *publics: str, where: str = "") -> Keyring:
        return cls({key_id(p): Verifier.from_text(p) for p in publics}, where)

    def judge(self, data: Any) -> tuple[Checkpoint | None, str]:
        """(the checkpoint, "") if `data` is a well-formed checkpoint signed by one of our keys, else (None, why)."""
        try:
            checkpoint = Checkpoint.model_validate(data, strict=True)
        except ValidationError as exc:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) or "data" for e in exc.errors()[:4])
            return None, f"malformed checkpoint ({fields})"
        verifier = self.keys.get(checkpoint.key_id)
        if verifier is None:
            return None, f"signed by an unknown key {checkpoint.key_id}"
        if not verifier.verify(checkpoint.signed_bytes(), checkpoint.signature):
            return None, f"signature does not verify with key {checkpoint.key_id} (forged or altered)"
        return checkpoint, ""


def checkpoint_keyring(settings: Settings) -> Keyring:
    """The public keys `audit verify` trusts: the setting, else the current and retired key files."""
    if settings.audit_verify_keys:
        return Keyring.of(*settings.audit_verify_keys, where="DRIFTLINE_AUDIT_VERIFY_KEYS")
    current = settings.keys_dir / KEY_FILE
    files = [current.with_suffix(".pub")] if current.with_suffix(".pub").exists() else []
    retired = settings.keys_dir / RETIRED_DIR
    files += sorted(retired.glob("*.pub")) if retired.is_dir() else []
    return Keyring.of(*(f.read_text().strip() for f in files), where=str(settings.keys_dir))


def rotate(settings: Settings) -> tuple[str, str]:
    """A new checkpoint key in data_dir/keys, swapped in atomically; the old public key kept under the retired
    folder (old checkpoints still verify), its private key gone. Returns (old key id, new key id). A running
    projector signs with the key it loaded until it is restarted."""
    current = settings.keys_dir / KEY_FILE
    old = load_or_create(current)
    old_id = key_id(old.public)
    retired = settings.keys_dir / RETIRED_DIR
    retired.mkdir(parents=True, exist_ok=True)
    (retired / f"{old_id}.pub").write_text(old.public + "\n")
    fresh = current.with_name(f".{KEY_FILE}.new")
    for leftover in (fresh, fresh.with_suffix(".pub")):
        leftover.unlink(missing_ok=True)
    new = load_or_create(fresh)
    os.replace(fresh, current)  # the old private key is overwritten: a retired key signs nothing more
    os.replace(fresh.with_suffix(".pub"), current.with_suffix(".pub"))
    return old_id, key_id(new.public)
