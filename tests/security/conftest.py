"""The security suite: every attack of issue 15 against real servers, refused, in one printed table."""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS
from tests.security.attack_table import AttackTable

TABLE = AttackTable()


@pytest.fixture
def attacks() -> AttackTable:
    """The run's attack table: a test adds a row per attack it tries (record() fails the test if not refused)."""
    return TABLE


def pytest_terminal_summary(terminalreporter) -> None:
    if not TABLE.rows:
        return
    text = TABLE.render()
    terminalreporter.section("attacks tried (tests/security)")
    terminalreporter.write_line(text)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "security-attacks.txt").write_text(text + "\n")
