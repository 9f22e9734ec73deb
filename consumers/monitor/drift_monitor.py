"""The monitor's pure logic: prediction and label events in, drift reports and alerts out; no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from consumers.monitor.alerts import Hysteresis
from consumers.monitor.calibration import Design, reference_error_bound, threshold
from consumers.monitor.detectors import CusumBank, Detection, ErrorCusum
from consumers.monitor.encoding import Encoded, RankIndex, encode_matrix, numeric_matrix
from consumers.monitor.histograms import WindowHistogram
from consumers.monitor.reference import PREDICTION, Profile
from consumers.monitor.river_bank import RiverBank
from consumers.monitor.score_bins import ScoreBins
from consumers.monitor.window_estimate import close_window
from consumers.monitor.window_report import ReportRequest, alert_events, window_report
from consumers.monitor.windows import WindowPolicy, WindowState
from schemas import Event, LabelReceived, PredictionMade
from schemas.monitoring import AlertClear, AlertCleared

SOURCE = "consumers/monitor"


@dataclass(frozen=True)
class MonitorConfig:
    false_alarms_per_10k: float = 0.1
    window: WindowPolicy = WindowPolicy()
    clear_after: int = 3
    design: Design = Design()
    detector: str = "cusum"  # per-feature detectors: the calibrated CUSUM bank, or adwin, kswin, page_hinkley (River)
    estimated_drop: float = 0.03  # estimated F1 (accuracy) this far below the reference estimate: an alert
    estimate_min_labels: int = 50  # labelled rows before the estimate is checked against them


def feature_detectors(profile: Profile, config: MonitorConfig) -> CusumBank | RiverBank:
    """The per-feature detector bank the configuration names."""
    if config.detector == "cusum":
        return CusumBank(profile, config.false_alarms_per_10k, config.design)
    return RiverBank(profile, config.detector)


@dataclass
class Outcome:
    events: list[Event] = field(default_factory=list)
    reports: list[ReportRequest] = field(default_factory=list)


class DriftMonitor:
    """Detectors, the current window and open alerts for one champion version."""

    def __init__(self, profile: Profile, config: MonitorConfig = MonitorConfig()):
        self.profile, self.config = profile, config
        self.index = RankIndex(profile) if profile.numeric else None
        self.bank = feature_detectors(profile, config)
        n_ref = int(profile.meta.get("holdout_rows") or profile.meta.get("reference_rows") or 0)
        self.error_p0 = reference_error_bound(profile.error_rate, n_ref, config.design)
        self.errors = ErrorCusum(self.error_p0, config.false_alarms_per_10k, config.design)
        self.hist = WindowHistogram(profile)
        self.window = WindowState()
        self.hysteresis = Hysteresis(config.clear_after)
        self.rows: list[dict] = []  # the window's raw features, only for the human-readable report
        self.scored, self.labelled = ScoreBins(), ScoreBins()  # the window's scores, for the estimated performance
        names = [c.name for c in profile.numeric]
        # The prediction column, when numeric, is the last one build_profile adds.
        self._prediction_numeric = PREDICTION in names
        self._numeric_features = [n for n in names if n != PREDICTION]
        if self._prediction_numeric and names[-1] != PREDICTION:
            raise ValueError("the numeric prediction column must come last in the profile")

    def reconfigure(self, config: MonitorConfig) -> None:
        """Apply a runtime configuration change and keep every statistic: a CUSUM's sum does not depend on its
        threshold, so a new threshold judges the sums already gathered (a lower one may alarm on the next event)."""
        if config.detector != self.config.detector or config.design != self.config.design:
            raise ValueError("the detector family and design are chosen at start; they do not change at runtime")
        if isinstance(self.bank, CusumBank):
            self.bank.threshold = threshold(config.false_alarms_per_10k, len(self.bank.tests))
        self.errors.threshold = threshold(config.false_alarms_per_10k, 1)
        self.hysteresis.clear_after = config.clear_after
        self.config = config

    def process(self, events: Sequence[Event], joins: dict[str, object],
                scores: dict[str, float | None] | None = None) -> Outcome:
        """PredictionMade and LabelReceived (with `joins`: request id -> predicted class, and `scores`: request id ->
        the prediction's score for the estimate, see EstimationRef.score) -> reports and alerts."""
        scores = scores or {}
        out, pending = Outcome(), []
        model, limit, span = self.profile.model, self.config.window.events, self.config.window.span
        for ev in events:
            if isinstance(ev, PredictionMade):
                if ev.data.model != model:
                    continue
                start = self.window.start or (pending[0].time if pending else None)
                if start is not None and ev.time - start >= span:
                    self._flush(pending)
                    pending = []
                    self._close(ev, out)
                pending.append(ev)
                if self.window.events + len(pending) >= limit:
                    self._flush(pending)
                    pending = []
                    self._close(ev, out)
            elif isinstance(ev, LabelReceived) and ev.data.request_id in joins:
                self._flush(pending)
                pending = []
                self._label(ev, joins[ev.data.request_id], scores.get(ev.data.request_id))
        self._flush(pending)
        return out

    def close_idle(self, cause: Event) -> Outcome:
        """Close a non-empty window nobody has added to for a while (`cause` is its last event)."""
        out = Outcome()
        if self.window.events or self.window.labelled:
            self._close(cause, out)
        return out

    def _encode(self, preds: list[PredictionMade]) -> tuple[Encoded, list[dict]]:
        features = [p.data.features for p in preds]
        positive = self.profile.positive_class
        x = numeric_matrix(features, self._numeric_features)
        if self._prediction_numeric:
            x = np.column_stack([x, [p.data.probabilities.get(positive) for p in preds]]).astype(float)
        cats = [[p.data.predicted_class for p in preds] if c.name == PREDICTION else [f.get(c.name) for f in features]
                for c in self.profile.categorical]
        return encode_matrix(self.profile, x, cats, self.index), features

    def _flush(self, preds: list[PredictionMade]) -> None:
        if not preds:
            return
        enc, records = self._encode(preds)
        for det in self.bank.update(enc):
            self._detected("prediction_drift" if det.column == PREDICTION else "data_drift", det)
        self.hist.update(enc)
        self.window.add_events(preds[0].time, preds[-1].time, len(preds))
        positive = self.profile.positive_class
        if positive is not None:
            self.window.positives += sum(1 for p in preds if str(p.data.predicted_class) == positive)
        self.rows.extend(records)
        ref = self.profile.estimation
        if ref is not None:
            self.scored.add(np.array([ref.score(p.data.probabilities) for p in preds], dtype=float))

    def _label(self, ev: LabelReceived, predicted: object, score: float | None = None) -> None:
        error = str(predicted) != str(ev.data.label)
        for det in self.errors.update(np.array([error])):
            self._detected("quality_drift", det)
        self.window.add_labels(1, int(error), ev.time)
        positive = self.profile.positive_class
        if positive is not None:
            self.window.add_outcome(str(predicted) == positive, str(ev.data.label) == positive)
        ref = self.profile.estimation
        if ref is not None and score is not None:
            self.labelled.add([score], [ref.positive(ev.data.label, predicted)])

    def _detected(self, kind: str, det: Detection) -> None:
        self.window.add_detection(kind, det.column, {"row": det.row, "test": det.test, "value": det.value})

    def _close(self, cause: Event, out: Outcome) -> None:
        estimate = close_window(self)
        # A window that could not judge a condition leaves its open alert as it was (no quiet window counted).
        unjudged = {k for k, judged in (("estimated_quality", estimate is not None and estimate.rows > 0),
                                        ("concept_drift", estimate is not None and estimate.estimate_valid is not None))
                    if not judged}
        alerts, reports = alert_events(self, cause, estimate, unjudged)
        out.events.extend(alerts)
        out.reports.extend(reports)
        url = reports[0].path if reports else None
        out.events.insert(0, window_report(self, cause, url, estimate))
        self.hist.reset()
        self.window = WindowState()
        self.rows = []
        self.scored, self.labelled = ScoreBins(), ScoreBins()

    def retire(self, cause: Event, reason: str) -> list[Event]:
        """The reference is replaced (new champion): clear every open alert of this one."""
        events = []
        for fingerprint, alert in sorted(self.hysteresis.open.items()):
            kind = fingerprint.split(":", 1)[0]
            events.append(cause.caused(AlertCleared, source=SOURCE, subject=self.profile.model, key=f"clear:{fingerprint}",
                                       data=AlertClear(kind=kind, model=self.profile.model, fingerprint=fingerprint,
                                                       alert_id=alert.alert_id, summary=reason,
                                                       reason="model_replaced")))
        self.hysteresis.open.clear()
        return events

    def state_dict(self) -> dict:
        return {"version": self.profile.version, "detector": self.bank.name, "bank": self.bank.to_state(),
                "bank_seen": self.bank.seen,
                "errors": self.errors.state.tolist(), "errors_seen": self.errors.seen,
                "num_counts": self.hist.num_counts.tolist(), "cat_counts": [c.tolist() for c in self.hist.cat_counts],
                "window": self.window.to_dict(), "hysteresis": self.hysteresis.to_dict(),
                "scored": self.scored.to_dict(), "labelled": self.labelled.to_dict()}

    def load_state(self, state: dict) -> bool:
        """Resume from a saved state of the same champion version and detector; False (fresh start) otherwise."""
        if state.get("version") != self.profile.version or state.get("detector", "cusum") != self.bank.name:
            return False
        if not self.bank.load_state(state["bank"]):
            return False
        self.bank.seen = state["bank_seen"]
        self.errors.state, self.errors.seen = np.array(state["errors"]), state["errors_seen"]
        self.hist.num_counts[:] = np.array(state["num_counts"], dtype=np.int64)
        for counts, saved in zip(self.hist.cat_counts, state["cat_counts"], strict=True):
            counts[:] = saved
        self.window = WindowState.from_dict(state["window"])
        self.hysteresis = Hysteresis.from_dict(state["hysteresis"])
        self.hysteresis.clear_after = self.config.clear_after  # the configuration now, not the one saved with it
        if "scored" in state:  # saved before the estimate existed: the window's scores start empty
            self.scored, self.labelled = ScoreBins.from_dict(state["scored"]), ScoreBins.from_dict(state["labelled"])
        return True
