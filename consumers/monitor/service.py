"""The monitor's adapter: pulls predictions and labels, drives DriftMonitor, publishes, saves state, reloads.

Restart safety: after each batch the detector state and hysteresis are saved in PostgreSQL with the last stream
sequence they cover, before the batch is acknowledged. A redelivered message at or below that sequence is
skipped; one above it is scored again from the saved state and re-emits the same deterministic event ids, which
JetStream's duplicate window drops. So a restart neither loses a window nor raises an alert twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import asyncpg

from consumers.monitor import metrics, shadow_store, state_store
from consumers.monitor.drift_monitor import DriftMonitor, MonitorConfig, Outcome
from consumers.monitor.evidently_report import save_report_apart
from consumers.monitor.reference import load_champion_profile
from consumers.monitor.shadow_judge import ShadowJudge
from consumers.monitor.windows import WindowPolicy
from infra import tracing
from infra.bus import Bus
from infra.champion import ChampionFollower, forced
from infra.consumer import ConsumerRunner, ConsumerSpec, Received
from infra.models import champion_version
from infra.runtime_config import ConfigFollower
from infra.settings import Settings
from schemas import Event, LabelReceived, ModelShadowDecided, PredictionMade, PredictionShadowed
from schemas.streams import PREDICTIONS

log = logging.getLogger(__name__)
DURABLE = "monitor"


def consumer_spec(settings: Settings, durable: str = DURABLE) -> ConsumerSpec:
    """The monitor's durable consumer: predictions and labels, in stream order."""
    return ConsumerSpec(durable, PREDICTIONS.name, (PredictionMade.topic, PredictionShadowed.topic, LabelReceived.topic),
                        batch=settings.monitor_batch, max_deliver=settings.max_deliver, ack_wait=settings.ack_wait_s,
                        backoff=tuple(settings.backoff_s), expected=(PredictionMade, PredictionShadowed, LabelReceived))


def monitor_config(settings: Settings) -> MonitorConfig:
    return MonitorConfig(settings.monitor_false_alarms_per_10k,
                         WindowPolicy(settings.monitor_window_events, settings.monitor_window_s),
                         settings.monitor_clear_windows, detector=settings.monitor_detector,
                         estimated_drop=settings.monitor_estimated_drop,
                         estimate_min_labels=settings.monitor_estimate_min_labels)


class MonitorService:
    """One champion's DriftMonitor fed from a durable consumer, with its state in PostgreSQL."""

    def __init__(self, settings: Settings, bus: Bus, pool: asyncpg.Pool, durable: str = DURABLE):
        self.settings, self.bus, self.pool = settings, bus, pool
        self.config = monitor_config(settings)
        self.spec = consumer_spec(settings, durable)
        self.runner = ConsumerRunner(bus, self.spec, self.handle)
        self.shadows = ShadowJudge(pool, settings.shadow_alpha, settings.shadow_max_pairs)
        self.monitor: DriftMonitor | None = None
        self.reference = None
        self.last_seq = 0
        self.last_event: Event | None = None
        self.last_activity = self.last_prune = time.monotonic()
        self.lock = asyncio.Lock()
        self.reports: asyncio.Queue = asyncio.Queue()
        # Tracing on: the trace contexts of the window's latest predictions, linked from the span its report and
        # alerts are published in (a window fans in from up to a thousand requests; a span keeps 128 links).
        self.window_traces: deque = deque(maxlen=tracing.MAX_LINKS)

    async def load(self, cause: Event | None = None) -> bool:
        """(Re)load the champion's profile; resume saved state of the same version, else start fresh."""
        current = await asyncio.to_thread(champion_version, self.settings)
        same = current is not None and self.monitor is not None and str(current.version) == self.monitor.profile.version
        if same and not forced(cause):
            return True  # the cheap registry look-up says nothing changed: skip loading model and reference
        loaded = await asyncio.to_thread(load_champion_profile, self.settings)
        if loaded is None:
            return False
        profile, reference = loaded
        async with self.lock:
            if self.monitor is not None and self.monitor.profile.version == profile.version and not forced(cause):
                return True
            retired = self.monitor.retire(cause, f"reference replaced by version {profile.version}") \
                if self.monitor is not None and cause is not None else []
            monitor = DriftMonitor(profile, self.config)
            saved = await state_store.fetch_state(self.pool, profile.model)
            if saved is not None:
                self.last_seq = saved[0]
                if monitor.load_state(saved[1]):
                    log.info("monitor: resumed %s v%s at stream sequence %d", profile.model, profile.version,
                             self.last_seq)
            self.monitor, self.reference = monitor, reference
            if retired:
                await self.bus.publish_many(retired)
            await self._save(self.last_seq)
            metrics.observe_monitor(monitor)
            log.info("monitor: watching %s v%s (%d columns, %s detectors, threshold %.1f) against %s", profile.model,
                     profile.version, len(profile.columns), monitor.bank.name, monitor.bank.threshold,
                     profile.meta.get("reference", "its reference"))
        return True

    async def handle(self, batch: list[Received]) -> None:
        """PredictionMade / LabelReceived batch -> DriftReported, AlertRaised, AlertCleared."""
        async with self.lock:
            fresh = [r for r in batch if r.stream_seq > self.last_seq]
            if not fresh or self.monitor is None:
                if self.monitor is None:
                    raise RuntimeError("no champion profile loaded yet")  # nak: retried once a model exists
                return
            model = self.monitor.profile.model
            events = [r.event for r in fresh]
            if tracing.ENABLED:  # a message without its own context here is the batch span's parent
                here = tracing.current_context()
                self.window_traces.extend(r.trace or here for r in fresh if isinstance(r.event, PredictionMade))
            preds = [e for e in events if isinstance(e, PredictionMade) and e.data.model == model]
            labels = [e for e in events if isinstance(e, LabelReceived) and e.data.model == model]
            ref = self.monitor.profile.estimation
            joined = await state_store.remember_and_join(
                self.pool, model, preds, labels, (lambda p: ref.score(p.data.probabilities)) if ref else (lambda p: None))
            # A label judges the version that served its prediction: the old champion's late labels do not count
            # against the new one (nor for its verification).
            version = self.monitor.profile.version
            mine = {rid: j for rid, j in joined.items() if j[2] in (None, version)}
            joins = {rid: cls for rid, (cls, _, _) in mine.items()}
            scores = {rid: score for rid, (_, score, _) in mine.items()}
            metrics.STALE_LABELS.labels(model).inc(len(joined) - len(mine))
            shadowed = [e for e in events if isinstance(e, PredictionShadowed) and e.data.model == model]
            judged = await self.shadows.step(model, shadowed, labels, joined)
            snapshot, rows = self.monitor.state_dict(), list(self.monitor.rows)
            try:
                outcome = self.monitor.process(events, joins, scores)
                outcome.events.extend(judged.decisions)
                await self._emit(outcome)
            except Exception:
                # Nothing of this batch is saved or acknowledged: forget it in memory too, so the redelivery
                # (or the one-by-one retry) is scored once, from the same state.
                self.monitor.load_state(snapshot)  # the window's scores too: they are in the state
                self.monitor.rows = rows
                raise
            self.last_event = preds[-1] if preds else self.last_event
            self.last_activity = time.monotonic()
            await self._save(max(r.stream_seq for r in fresh), [e.data.request_id for e in labels], judged.save)
            metrics.observe_shadow(model, judged.points)
            metrics.EVENTS.labels(model, "prediction").inc(len(preds))
            metrics.EVENTS.labels(model, "label").inc(len(labels))
            metrics.UNJOINED_LABELS.labels(model).inc(len(labels) - len(joined))
            metrics.observe_monitor(self.monitor)

    async def _emit(self, outcome: Outcome) -> None:
        if outcome.events:  # what a closed window made: published in a span linked to the window's predictions
            with tracing.fan_in("monitor window", self.window_traces, {"driftline.events": len(outcome.events)}):
                await self.bus.publish_many(outcome.events)
            if any(e.type == "driftline.monitoring.drift_report.v1" for e in outcome.events):
                self.window_traces.clear()
        for event in outcome.events:
            if event.type == "driftline.monitoring.drift_report.v1":
                metrics.observe_report(event)
            elif isinstance(event, ModelShadowDecided):
                log.warning("monitor: shadow test decided %s: %s", event.data.decision, event.data.reason)
            elif event.type.startswith("driftline.alert."):
                action = "raised" if event.type.startswith("driftline.alert.raised") else "cleared"
                metrics.ALERTS.labels(event.data.model, event.data.kind, action).inc()
                log.warning("monitor: alert %s %s: %s", action, event.data.fingerprint,
                            getattr(event.data, "summary", ""))
        if self.settings.monitor_evidently_reports:
            for request in outcome.reports:
                self.reports.put_nowait(request)

    async def _save(self, seq: int, joined: list[str] = (), also=None) -> None:
        m = self.monitor
        await state_store.save_state(self.pool, m.profile.model, m.profile.version, seq, m.state_dict(), joined, also)
        self.last_seq = seq

    async def close_idle(self) -> None:
        """Close a window nobody has added to for monitor_idle_close_s; its last event stands as the cause."""
        async with self.lock:
            idle = time.monotonic() - self.last_activity >= self.settings.monitor_idle_close_s
            if self.monitor is None or self.last_event is None or not idle or not self.monitor.window.events:
                return
            await self._emit(self.monitor.close_idle(self.last_event))
            await self._save(self.last_seq)
            metrics.observe_monitor(self.monitor)

    async def _report_worker(self) -> None:
        while True:
            request = await self.reports.get()
            path = self.settings.reports_dir / request.path
            try:
                await save_report_apart(self.reference, request.rows, self.monitor.profile.features, path)
                log.info("monitor: Evidently report %s", path)
            except Exception:  # the alert is already out; a missing page must not stop the monitor
                log.exception("monitor: Evidently report %s failed", path)

    def apply_config(self, values: dict) -> None:
        """infra.runtime_config.ConfigFollower's callback: the monitor's runtime keys, already checked. Synchronous,
        so no batch is scored half under the old configuration and half under the new."""
        settings = self.settings.model_copy(update=values)
        config = monitor_config(settings)
        if self.monitor is not None:
            self.monitor.reconfigure(config)  # raises before anything changes if it cannot apply
        self.settings, self.config = settings, config
        if self.monitor is not None:
            metrics.observe_monitor(self.monitor)

    async def champion_changed(self, version: str | None, cause: Event | None) -> None:
        """infra.champion.ChampionFollower's callback: a promotion or rollback (or the poll) -> reload if it moved."""
        await self.load(cause)

    async def run(self, stop: asyncio.Event, follower: ChampionFollower, config: ConfigFollower | None = None) -> None:
        """Load the champion (waiting for one), then score, report and follow the champion (and the runtime
        configuration) until `stop`."""
        await follower.subscribe()  # before the first load: a promotion meanwhile is not missed
        if config is not None:
            await config.start()  # the last configuration change applies before the first window
        while not stop.is_set() and not await self.load():
            log.info("monitor: no champion yet; waiting")
            try:
                await asyncio.wait_for(stop.wait(), 5)
            except TimeoutError:
                pass
        if stop.is_set():
            return
        await self.runner.setup()
        helpers = [asyncio.create_task(follower.run(stop)), asyncio.create_task(self._report_worker()),
                   asyncio.create_task(self._housekeeping(stop))]
        if config is not None:
            helpers.append(asyncio.create_task(config.run(stop)))
        try:
            await self.runner.run(stop)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            try:  # (the runner reports the consumer's lag itself)
                await self.close_idle()
                if time.monotonic() - self.last_prune > 3600:
                    self.last_prune = time.monotonic()
                    await state_store.prune(self.pool, self.settings.predictions_max_age_s)
                    await shadow_store.prune(self.pool, self.settings.predictions_max_age_s)
            except Exception as exc:  # the bus or database is briefly away: try again next tick
                log.debug("monitor housekeeping: %r", exc)
