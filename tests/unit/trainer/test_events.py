"""The events of a training chain by cause: one correlation id from validation to promotion."""

from __future__ import annotations

from schemas import AlertRaised
from schemas.model import Candidate
from trainer import events


def validated(cause=None):
    return events.validated(model="m", dataset="builtin:x", content_hash="h", rows=10, columns=["a", "t"],
                            target="t", schema_path="/s.yaml", summary={"rows": 10}, cause=cause)


def test_chain_shares_one_correlation_id_and_declined_promotion_names_the_champion():
    v = validated()
    trained = events.trained(v, model="m", version="3", parent_run_id="p", best_family="lightgbm",
                             selection_metric="f1", candidates=[Candidate(family="lightgbm", run_id="r",
                                                                          metrics={"f1": 0.9})],
                             split_seed=42, trigger="manual")
    declined = events.promoted(trained, promote=False, reason="did not beat", previous_version="2", metric="f1",
                               challenger_metrics={"f1": 0.9}, champion_metrics={"f1": 0.95})
    assert {v.correlation_id, trained.correlation_id, declined.correlation_id} == {v.id}
    assert trained.causation_id == v.id and declined.causation_id == trained.id
    assert trained.data.dataset_hash == "h" and trained.data.split_seed == 42
    assert declined.data.version == "2" and declined.data.challenger_version == "3" and not declined.data.promoted


def test_a_retrain_asked_for_by_another_event_continues_its_chain():
    cause = AlertRaised(source="test", subject="m", data=dict(kind="data_drift", model="m", fingerprint="f",
                                                              statistic="psi", value=0.4, threshold=0.2,
                                                              detector="psi"))
    v = validated(cause=cause)
    assert v.correlation_id == cause.correlation_id and v.causation_id == cause.id
    assert validated(cause=cause).id == v.id  # a redelivered cause re-emits the same event id
