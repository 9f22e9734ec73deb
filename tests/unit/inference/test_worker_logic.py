"""The worker's pure step: requests -> PredictionMade in one call, or PredictionFailed saying why."""

from __future__ import annotations

from inference.model_holder import choose_path
from inference.worker import answer_requests
from schemas import PredictionFailed, PredictionMade, PredictionRequested, derived_id, parse_event
from tests.unit.inference.models import memory_model, records


def request(features, model="driftline-classifier", rid="r") -> PredictionRequested:
    return PredictionRequested(source="t", subject=model, data={"request_id": rid, "model": model,
                                                                 "features": features})


def test_valid_requests_become_predictions_caused_by_them():
    model = memory_model(version="7")
    choose_path(model, records(3))
    requests = [request(r, rid=f"r{i}") for i, r in enumerate(records(3))]
    answers = answer_requests(requests, model, now_ms=requests[-1].time.timestamp() * 1000 + 5)
    assert all(a.ok for a in answers)
    for req, answer in zip(requests, answers, strict=True):
        made = parse_event(answer.event.to_bytes(), (PredictionMade,))  # the wire form meets the schema
        assert made.id == answer.event.id and answer.predicted_class == made.data.predicted_class
        assert made.id == derived_id(req.id, made.type)  # a redelivered request re-emits the same id
        assert (made.causation_id, made.correlation_id) == (req.id, req.correlation_id)
        assert made.data.request_id == req.data.request_id and made.data.model_version == "7"
        assert made.data.channel == "bus" and made.data.features == req.data.features
        assert made.data.latency_ms >= 0


def test_unknown_model_and_bad_features_fail_with_reasons():
    model = memory_model()
    good = records(1)[0]
    bad = dict(good)
    bad.pop("mean radius")
    bad["mean area"] = "big"
    answers = answer_requests([request(good, model="other"), request(bad), request(good)], model, now_ms=0)
    assert [a.ok for a in answers] == [False, False, True]
    unknown, wrong = answers[0].event, answers[1].event
    assert isinstance(unknown, PredictionFailed) and "unknown model 'other'" in unknown.data.error
    assert set(wrong.data.fields) == {"mean radius", "mean area"}
    assert "field required" in wrong.data.error and "expected a number, got string" in wrong.data.error


def test_values_the_model_cannot_turn_into_probabilities_fail_alone():
    model = memory_model()
    choose_path(model, records(3))
    good = records(2)
    extreme = {name: (1e308 if i % 2 else -1e308) for i, name in enumerate(good[0])}  # overflows to NaN
    answers = answer_requests([request(good[0]), request(extreme), request(good[1])], model, now_ms=0)
    assert [a.ok for a in answers] == [True, False, True]
    assert "no finite probabilities" in answers[1].event.data.error
