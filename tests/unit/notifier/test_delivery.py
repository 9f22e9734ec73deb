"""Retries: bounded, with the configured backoff, never raising."""

from consumers.notifier.delivery import with_retries


class Flaky:
    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    async def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionRefusedError(f"refused #{self.calls}")


async def test_succeeds_after_transient_failures_waiting_the_backoff():
    slept, send = [], Flaky(2)

    async def sleep(s):
        slept.append(s)

    result = await with_retries("email", send, attempts=4, backoff=[0.5, 2.0], sleep=sleep)
    assert result.ok and result.attempts == 3 and send.calls == 3
    assert slept == [0.5, 2.0]


async def test_gives_up_after_the_last_attempt_and_reports_the_error():
    slept, send = [], Flaky(99)

    async def sleep(s):
        slept.append(s)

    result = await with_retries("slack", send, attempts=3, backoff=[0.1], sleep=sleep)
    assert not result.ok and result.attempts == 3 and send.calls == 3
    assert result.error == "ConnectionRefusedError: refused #3"
    assert slept == [0.1, 0.1]  # the last delay repeats; no sleep after the final attempt
