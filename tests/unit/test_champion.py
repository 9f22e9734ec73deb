"""Which model events move the served version."""

from __future__ import annotations

from infra.champion import version_to_serve
from schemas import ModelPromoted, ModelRolledBack


def promoted(version: str, promoted: bool = True, model: str = "driftline-classifier") -> ModelPromoted:
    return ModelPromoted(source="t", subject=model, data=dict(model=model, version=version, promoted=promoted,
                                                               reason="better f1"))


def test_a_promotion_moves_to_its_version():
    assert version_to_serve(promoted("3"), "driftline-classifier") == "3"


def test_a_declined_promotion_or_another_model_changes_nothing():
    assert version_to_serve(promoted("3", promoted=False), "driftline-classifier") is None
    assert version_to_serve(promoted("3", model="other"), "driftline-classifier") is None


def test_a_rollback_moves_to_the_earlier_version():
    event = ModelRolledBack(source="t", subject="driftline-classifier", data=dict(
        model="driftline-classifier", from_version="3", to_version="2", reason="worse"))
    assert version_to_serve(event, "driftline-classifier") == "2"
