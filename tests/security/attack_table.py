"""The security suite's table: each test records the attacks it tried, what should stop each, and what did.

A row that was not refused fails its test at once (record asserts); the whole table is printed at the end of the
run (tests/security/conftest.py) and written to test-artifacts/security-attacks.txt.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Attack:
    attack: str
    expected: str
    observed: str
    refused: bool


@dataclass
class AttackTable:
    rows: list[Attack] = field(default_factory=list)

    def record(self, attack: str, expected: str, observed: str, refused: bool) -> None:
        """Add a row; the attack must have been refused."""
        self.rows.append(Attack(attack, expected, observed, refused))
        assert refused, f"NOT REFUSED: {attack} (expected: {expected}; observed: {observed})"

    def render(self, widths: tuple[int, int, int] = (46, 40, 56)) -> str:
        head = ("#", "attack", "expected refusal", "observed")
        lines = [_line(head, widths), _line(("-" * 3, "-" * widths[0], "-" * widths[1], "-" * widths[2]), widths)]
        for number, row in enumerate(self.rows, 1):
            observed = row.observed if row.refused else f"NOT REFUSED: {row.observed}"
            lines.append(_line((str(number), row.attack, row.expected, observed), widths))
        refused = sum(row.refused for row in self.rows)
        lines.append(f"{refused} of {len(self.rows)} attacks refused")
        return "\n".join(lines)


def _line(cells: tuple[str, str, str, str], widths: tuple[int, int, int]) -> str:
    number, *texts = cells
    wrapped = [textwrap.wrap(text, width) or [""] for text, width in zip(texts, widths, strict=True)]
    out = []
    for i in range(max(len(w) for w in wrapped)):
        parts = [f"{(number if i == 0 else ''):>3}"]
        parts += [f"{(w[i] if i < len(w) else ''):<{width}}" for w, width in zip(wrapped, widths, strict=True)]
        out.append(" | ".join(parts).rstrip())
    return "\n".join(out)
