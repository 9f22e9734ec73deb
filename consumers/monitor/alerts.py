"""Hysteresis: one condition raises one alert, which stays open while the condition is seen and clears after quiet."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class OpenAlert:
    alert_id: str
    features: list[str]
    quiet_windows: int = 0


@dataclass
class Hysteresis:
    """Open alerts by fingerprint; a fingerprint clears after `clear_after` consecutive windows without detection."""

    clear_after: int = 3
    open: dict[str, OpenAlert] = field(default_factory=dict)

    def step(self, fingerprint: str, detected: list[str]) -> str | None:
        """Record one closed window for a condition; returns 'raise', 'clear' or None (nothing to emit)."""
        current = self.open.get(fingerprint)
        if detected:
            if current is None:
                return "raise"
            current.quiet_windows = 0
            current.features = sorted(set(current.features) | set(detected))
            return None
        if current is None:
            return None
        current.quiet_windows += 1
        return "clear" if current.quiet_windows >= self.clear_after else None

    def opened(self, fingerprint: str, alert_id: str, features: list[str]) -> None:
        self.open[fingerprint] = OpenAlert(alert_id, sorted(features))

    def closed(self, fingerprint: str) -> OpenAlert | None:
        return self.open.pop(fingerprint, None)

    def to_dict(self) -> dict:
        return {"clear_after": self.clear_after,
                "open": {k: [v.alert_id, v.features, v.quiet_windows] for k, v in self.open.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Hysteresis:
        return cls(d["clear_after"], {k: OpenAlert(a, f, q) for k, (a, f, q) in d["open"].items()})
