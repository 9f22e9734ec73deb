"""Ed25519 signing keys: who signs (the approvals owner's decisions, the projector's checkpoints) holds the private
key; whoever checks needs only the public one. A key comes from a setting, else from a file in the data directory
made once (readable by its owner only), so one machine's services share it and containers mount it."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Signer:
    """A private key that signs bytes; `public` is what a checker needs (base64)."""

    key: Ed25519PrivateKey

    def sign(self, message: bytes) -> str:
        return _b64(self.key.sign(message))

    @property
    def public(self) -> str:
        return _b64(self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))

    @classmethod
    def from_text(cls, text: str) -> Signer:
        return cls(Ed25519PrivateKey.from_private_bytes(_unb64(text.strip())))


@dataclass(frozen=True)
class Verifier:
    key: Ed25519PublicKey

    def verify(self, message: bytes, signature: str | None) -> bool:
        if not signature:
            return False
        try:
            self.key.verify(_unb64(signature), message)
        except (InvalidSignature, ValueError):
            return False
        return True

    @classmethod
    def from_text(cls, text: str) -> Verifier:
        return cls(Ed25519PublicKey.from_public_bytes(_unb64(text.strip())))


def load_or_create(path: Path) -> Signer:
    """The private key kept at `path` (base64 raw bytes), created once with mode 0600; its public key beside it."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw,
                                                           serialization.PrivateFormat.Raw,
                                                           serialization.NoEncryption())
        try:  # O_EXCL: two services starting at once make one key, not two
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(_b64(fresh))
    signer = Signer.from_text(path.read_text())
    public = path.with_suffix(".pub")
    if not public.exists():
        public.write_text(signer.public + "\n")
    return signer


def public_of(path: Path) -> Verifier:
    """The public key beside a private key file (or the file itself if it is the .pub)."""
    path = Path(path)
    pub = path if path.suffix == ".pub" else path.with_suffix(".pub")
    if not pub.exists():
        load_or_create(path)
    return Verifier.from_text(pub.read_text())
