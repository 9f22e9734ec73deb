"""The bus worker: driftline.prediction.requested in micro-batches -> driftline.prediction.made (or .failed)."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from inference import metrics
from inference.features import check_record, summary
from inference.made_events import SerializedEvent, caused_by
from inference.model_holder import ModelHolder, NonFiniteOutput, predict_batch
from inference.shadow import ShadowScorer
from infra import tracing
from infra.bus import REPLY_HEADER, TYPE_HEADER, Bus
from infra.consumer import ConsumerRunner, ConsumerSpec, Received, Rejected, TwoStepPull
from infra.models import LoadedModel
from infra.settings import Settings
from schemas import PredictionFailed, PredictionRequested
from schemas.streams import REQUESTS

SOURCE = "inference/worker"
DURABLE = "inference-worker"

NON_FINITE = "the model gives no finite probabilities for these values: are they far outside the training range?"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """What one request becomes: a prediction, or a failure that says why."""

    request: PredictionRequested
    event: SerializedEvent | PredictionFailed  # a PredictionMade in wire form, or a failure
    predicted_class: int | str | None = None

    @property
    def ok(self) -> bool:
        return isinstance(self.event, SerializedEvent)


def _failure(request: PredictionRequested, error: str, fields: list[str] = ()) -> Answer:
    data = dict(request_id=request.data.request_id, model=request.data.model, error=error, fields=list(fields))
    return Answer(request, request.caused(PredictionFailed, source=SOURCE, data=data))


def answer_requests(requests: Sequence[PredictionRequested], model: LoadedModel, now_ms: float) -> list[Answer]:
    """PredictionRequested -> PredictionMade, all valid requests in one model call; the rest -> PredictionFailed."""
    answers: list[Answer | None] = []
    valid: list[int] = []
    for i, request in enumerate(requests):
        if request.data.model != model.name:
            answers.append(_failure(request, f"unknown model {request.data.model!r}; this worker serves "
                                             f"{model.name!r}"))
            continue
        errors = check_record(request.data.features, model.feature_types)
        if errors:
            answers.append(_failure(request, summary(errors), [".".join(map(str, e.loc)) for e in errors]))
            continue
        answers.append(None)
        valid.append(i)
    try:
        predictions = predict_batch(model, [requests[i].data.features for i in valid]) if valid else []
    except NonFiniteOutput as exc:  # those requests fail alone (and for good: the same values fail again)
        for row in exc.rows:
            answers[valid[row]] = _failure(requests[valid[row]], NON_FINITE)
        valid = [i for i in valid if answers[i] is None]
        predictions = predict_batch(model, [requests[i].data.features for i in valid]) if valid else []
    for i, prediction in zip(valid, predictions, strict=True):
        request = requests[i]
        answers[i] = Answer(request, caused_by(
            request, source=SOURCE, request_id=request.data.request_id, features=request.data.features, model=model,
            prediction=prediction, latency_ms=max(0.0, now_ms - request.time.timestamp() * 1000), channel="bus"),
            prediction.predicted_class)
    return answers


class PullLoop(ConsumerRunner):
    """The consumer runner (acks, redelivery, dead letters, lag) pulling through TwoStepPull."""

    def __init__(self, bus: Bus, spec: ConsumerSpec, handler, idle_wait: float = 1.0):
        super().__init__(bus, spec, handler)
        self.idle_wait = idle_wait

    async def setup(self) -> None:
        await super().setup()
        self._sub = TwoStepPull(self._sub, self.idle_wait)


class PoisonInBatch(Exception):
    """A batch holds a request that can never succeed: the runner retries one by one and dead-letters it."""


def consumer_spec(settings: Settings) -> ConsumerSpec:
    """The worker's durable consumer on REQUESTS."""
    return ConsumerSpec(
        DURABLE, REQUESTS.name, (PredictionRequested.topic,), batch=settings.worker_batch,
        max_wait=settings.worker_batch_wait_s, max_deliver=settings.max_deliver, ack_wait=settings.ack_wait_s,
        backoff=tuple(settings.backoff_s), expected=(PredictionRequested,))


class InferenceWorker:
    """Adapter: pulls request batches, publishes the answers pipelined, replies, and lets the runner ack."""

    def __init__(self, settings: Settings, bus: Bus, holder: ModelHolder, shadow: ShadowScorer | None = None):
        self.bus = bus
        self.holder = holder
        self.shadow = shadow
        self.spec = consumer_spec(settings)
        self.runners: list[ConsumerRunner] = []

    def runner(self) -> ConsumerRunner:
        """One pull loop; several share the durable consumer (in this process and in others)."""
        loop = PullLoop(self.bus, self.spec, self.handle)
        self.runners.append(loop)
        return loop

    def apply_config(self, values: dict) -> None:
        """infra.runtime_config.ConfigFollower's callback: worker_batch and worker_batch_wait_s, already checked.
        Each pull loop takes the new sizes at its next fetch (the durable consumer itself does not change)."""
        self.spec = replace(self.spec, batch=values.get("worker_batch", self.spec.batch),
                            max_wait=values.get("worker_batch_wait_s", self.spec.max_wait))
        for loop in self.runners:
            loop.spec = self.spec

    async def handle(self, batch: list[Received]) -> None:
        """PredictionRequested batch -> PredictionMade events stored (then replies); poison -> PredictionFailed."""
        model = self.holder.current
        if model is None:
            raise RuntimeError("no model loaded yet")  # transient: nak with backoff
        # Tracing on, a batch of several traces: each answer continues its own request's trace, in a span that
        # covers the shared model call and the publish (tracing off: no spans, nothing to end).
        spans = tracing.start_children(f"{DURABLE} predict", [item.trace for item in batch]) if tracing.ENABLED else ()
        try:
            answers = answer_requests([item.event for item in batch], model, time.time() * 1000)
            for answer, span in zip(answers, spans, strict=False):  # spans: () when tracing is off
                if span is not None and answer.ok:
                    answer.event.trace = tracing.headers_of(span)
            failed = [a for a in answers if not a.ok]
            if failed and len(batch) > 1:
                raise PoisonInBatch(f"{len(failed)} of {len(batch)} requests cannot be answered")
            await self.bus.publish_many([a.event for a in answers])
        finally:
            tracing.end(spans)
        ambient = tracing.current_headers()
        for item, answer in zip(batch, answers, strict=True):
            reply = item.headers.get(REPLY_HEADER)
            if reply:
                await self.bus.nc.publish(reply, answer.event.to_bytes(), headers={
                    TYPE_HEADER: answer.event.type, **(getattr(answer.event, "trace", None) or ambient)})
        if failed:
            metrics.PREDICTION_FAILURES.labels("bus", "invalid").inc()
            raise Rejected(failed[0].event.data.error)
        metrics.child(metrics.BATCH_SIZE, "bus").observe(len(answers))
        metrics.count_predictions(model.name, model.version, (a.predicted_class for a in answers), "bus")
        if self.shadow is not None and self.shadow.models:  # after the answers are stored: never waited for
            self.shadow.offer("bus", model.version, [(a.request.data.request_id, a.request.data.features,
                                                      a.request.correlation_id, a.request.id) for a in answers])

