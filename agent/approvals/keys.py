"""The approvals owner's keys: the page and the terminal sign decisions, the executor checks them."""

from __future__ import annotations

from infra.keys import Signer, Verifier, load_or_create, public_of
from infra.settings import Settings

KEY_FILE = "approvals.key"


def decision_signer(settings: Settings) -> Signer:
    if settings.approvals_signing_key is not None:
        return Signer.from_text(settings.approvals_signing_key.get_secret_value())
    return load_or_create(settings.keys_dir / KEY_FILE)


def decision_verifier(settings: Settings) -> Verifier:
    if settings.approvals_verify_key:
        return Verifier.from_text(settings.approvals_verify_key)
    if settings.approvals_signing_key is not None:
        return Verifier(decision_signer(settings).key.public_key())
    return public_of(settings.keys_dir / KEY_FILE)
