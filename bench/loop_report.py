"""The scenario benchmark's reading of a run: what the loop did, how well the traffic was served, the table."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import asdict, dataclass, field

from schemas import ActionCompleted, ActionEscalated, ActionVerified, AlertRaised, DiagnosisMade

QUIET = {"log_error", "send_alert"}  # actions that change nothing in service: not a remediation


def f1_of(rows) -> tuple[float | None, int]:
    """F1 of the positive class (label 1) over (predicted, label) pairs, and how many pairs."""
    pairs = [(str(p), str(y)) for p, y in rows if p is not None and y is not None]
    tp = sum(p == "1" and y == "1" for p, y in pairs)
    fp = sum(p == "1" and y != "1" for p, y in pairs)
    fn = sum(p != "1" and y == "1" for p, y in pairs)
    return (2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None), len(pairs)


@dataclass
class Outcome:
    scenario: str
    seed: int
    expect: str
    what: str
    note: str = ""
    incidents: list[str] = field(default_factory=list)
    detected: str = "-"
    severity: str = "-"
    proposed: str = "-"
    taken: str = "-"
    remediations: int = 0
    escalations: int = 0
    f1: dict[str, tuple[float | None, int]] = field(default_factory=dict)
    serving: list[dict] = field(default_factory=list)
    verification: str = "-"
    verified_passed: bool = False
    ceiling: float | None = None
    after_version: str | None = None
    seconds: float = 0.0

    @classmethod
    def skipped(cls, s, reason: str) -> Outcome:
        return cls(s.name, s.seed, s.expect, s.what, note=f"skipped: {reason}")

    @classmethod
    def broken(cls, s, reason: str) -> Outcome:
        return cls(s.name, s.seed, s.expect, s.what, note=f"bench error: {reason}")

    def as_dict(self) -> dict:
        return asdict(self)

    def targets(self) -> str:
        if self.note:
            return "-"
        missed = []
        if self.expect == "detect":
            if self.detected == "-":
                missed.append("not detected")
            if "retrain_model" in self.taken:
                missed.append("retrained on broken input")
        elif self.expect == "repair":
            if not self.verified_passed:
                missed.append("no passed verification")
            before, after = self.f1.get("before", (None, 0))[0], self.f1.get("after", (None, 0))[0]
            if before is None or after is None or after < before - 0.02:
                missed.append("F1 after not within 0.02 of before")
            slow = [s for s in self.serving if max(s.get("gateway_s", 1e9), s.get("worker_s", 1e9)) > 60
                    and s.get("changed_serving")]
            if slow or not any(s.get("changed_serving") for s in self.serving):
                missed.append("approval->serving > 60s or none")
        else:
            if self.remediations:
                missed.append(f"{self.remediations} remediation(s)")
            if self.escalations:
                missed.append(f"{self.escalations} escalation(s)")
        return "met" if not missed else "MISSED: " + "; ".join(missed)


class Story:
    """The events of one scenario's run, read into the table's columns."""

    def __init__(self, run):
        self.run = run
        self.rec = run.rec

    async def wait_verification(self, rec, timeout: float) -> None:
        """If a remediation changed what serves, wait (up to `timeout`) for the agent's verdict on it."""
        remedied = {e.correlation_id for e in rec.of(ActionCompleted) if e.data.kind not in QUIET
                    and (e.data.result.get("promoted") or e.data.kind in ("deploy_model", "rollback_model"))}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            verified = {e.data.incident_id for e in rec.of(ActionVerified)}
            if remedied <= verified:
                return
            await asyncio.sleep(1)

    def _when(self, event) -> str:
        t, rows = self.rec.seen_at(event)
        runs = self.run.runs
        if runs.get("after2") in rows:
            return f"after2 row {rows[runs['after2']]}"
        if runs.get("after") in rows:
            return f"after row {rows[runs['after']]}"
        if runs.get("A") not in rows:  # no simulated row answered yet: only the bench's own probes had been served
            return "before traffic"
        return f"row {rows[runs['A']]}"

    def outcome(self, f1) -> Outcome:
        run, rec, s = self.run, self.rec, self.run.scenario
        o = Outcome(s.name, s.seed, s.expect, s.what)
        drift_t = run.started["A"] + run.phases.pre / run.phases.rate
        alerts = rec.of(AlertRaised)
        if alerts:
            o.detected = f"{self._when(alerts[0])} ({alerts[0].data.kind})"
        diagnoses = rec.of(DiagnosisMade)
        o.incidents = list(dict.fromkeys(d.data.incident_id for d in diagnoses))
        lines = []
        for incident in o.incidents:
            steps = [d for d in diagnoses if d.data.incident_id == incident]
            lines.append("→".join(f"{d.data.severity}@{rec.seen_at(d)[0] - drift_t:+.0f}s" for d in steps)
                         + f" ({steps[-1].data.issue})")
        o.severity = " | ".join(lines) or "-"
        proposed = [a.kind for d in diagnoses for a in d.data.proposed_actions]
        o.proposed = ", ".join(dict.fromkeys(proposed)) or "-"
        taken = Counter(e.data.kind for e in rec.of(ActionCompleted))
        o.taken = ", ".join(f"{k}×{n}" if n > 1 else k for k, n in taken.items()) or "-"
        o.remediations = sum(n for k, n in taken.items() if k not in QUIET)
        o.escalations = len(rec.of(ActionEscalated))
        a_rows = [(i, r) for (rid, i), r in rec.rows.items() if rid == run.runs.get("A")]
        last_after = run.runs.get("after2") or run.runs.get("after")
        after_rows = [(k, r) for k, r in rec.rows.items() if k[0] == last_after]
        # The version that served most of the last after-traffic (a rollback may land after it ended).
        o.after_version = Counter(r.version for _, r in after_rows).most_common(1)[0][0] if after_rows else None
        o.f1 = {
            "before": f1([(r.predicted, r.label) for i, r in a_rows if i < run.phases.pre]),
            "during": f1([(r.predicted, r.label) for i, r in a_rows if i >= run.phases.pre and r.version == run.v0]),
            "after": f1([(r.predicted, r.label) for (rid, _), r in after_rows if r.version == o.after_version]),
        }
        o.serving = [{**{k: v for k, v in a.items() if k != "approved_at"},
                      "changed_serving": "gateway_s" in a and "worker_s" in a} for a in run.approvals.values()]
        verdicts = rec.of(ActionVerified)
        o.verification = "; ".join(f"{'passed' if v.data.passed else 'FAILED'} ({v.data.kind}, {v.data.basis}, "
                                   f"{v.data.rows} rows)" for v in verdicts) or "-"
        o.verified_passed = any(v.data.passed and v.data.kind not in ("condition_cleared",) for v in verdicts)
        return o


def story_of(run) -> Story:
    return Story(run)


def _f1(cell: tuple[float | None, int] | None) -> str:
    if not cell or cell[0] is None:
        return "-"
    return f"{cell[0]:.3f}"


def print_table(outcomes: list[Outcome], phases) -> None:
    print(f"\nbench_loop: rows pre {phases.pre} / drift {phases.drift} / after {phases.after} at {phases.rate:g}/s, "
          "labels from the fixed relation 1 s late; default settings, shipped policy; the bench approves at once")
    head = ("scenario (seed)", "detected at", "severity over time (s after drift start)", "proposed", "taken",
            "F1 before/during/after (rows) ceiling", "approval→serving gw/worker", "verification", "targets")
    print(" | ".join(head))
    print(" | ".join("---" for _ in head))
    for o in outcomes:
        if o.note:
            print(f"{o.scenario} ({o.seed}) | {o.note} |  |  |  |  |  |  | -")
            continue
        f1 = "/".join(_f1(o.f1.get(k)) for k in ("before", "during", "after"))
        counts = "/".join(str(o.f1.get(k, (None, 0))[1]) for k in ("before", "during", "after"))
        serving = "; ".join(
            f"{a['kind']} v{a.get('version', '?')}: {a['gateway_s']:.0f}s/{a['worker_s']:.0f}s" if a["changed_serving"]
            else f"{a['kind']}: no change ({a.get('outcome', '')[:70]})" for a in o.serving) or "-"
        print(f"{o.scenario} ({o.seed}) | {o.detected} | {o.severity} | {o.proposed} | {o.taken} | {f1} ({counts}) {_f1((o.ceiling, 0))} | "
              f"{serving} | {o.verification} | {o.targets()}")
    print("\nscenarios: " + "; ".join(f"{o.scenario}: {o.what}" for o in outcomes))
