"""People who are not who they say: the approval page served by uvicorn as the ui service runs it (its own NATS
credential, real PostgreSQL), and the real `driftline approvals` command in a child process."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import httpx
import pytest

from agent.approvals import book
from driftline import run_ui
from infra.db import connect_pool
from infra.processes import free_port, wait_for_port
from infra.users import add_user
from tests.integration.agent_helpers import decide
from tests.integration.ui_helpers import csrf_of, request_event, sign_in
from ui.routes_approvals import ANONYMOUS

pytestmark = pytest.mark.integration
PASSWORDS = {"ada": "ada-secret-1", "bob": "bob-secret-1", "vic": "vic-secret-1"}
ROLES = {"ada": "approver", "bob": "approver", "vic": "viewer"}


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=5)
    async with p.acquire() as conn:
        for name, role in ROLES.items():
            await add_user(conn, name, role, password=PASSWORDS[name])
        await book.record_request(conn, request_event("ap-1", requested_by="agent"))
        await book.record_request(conn, request_event("ap-ada", requested_by="ada"))
    yield p
    await p.close()


@pytest.fixture
async def page(settings, database_url, pool, bus):
    """The approval page as `driftline serve ui` runs it, on a free port; yields its base URL."""
    settings = settings.model_copy(update={"database_url": database_url, "ui_port": free_port()})
    stop = asyncio.Event()
    task = asyncio.create_task(run_ui.main(settings, stop))
    await asyncio.to_thread(wait_for_port, "127.0.0.1", settings.ui_port, 60, None, "the approval page")
    yield f"http://127.0.0.1:{settings.ui_port}"
    stop.set()
    await asyncio.wait_for(task, 20)


def client(base: str, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=30)


async def status_of(pool, approval_id: str) -> str:
    return await pool.fetchval("SELECT status FROM approvals WHERE approval_id = $1", approval_id)


async def refusals_written(pool) -> int:
    return await pool.fetchval("SELECT count(*) FROM outbox WHERE type = 'driftline.approval.refused.v1'")


async def test_anonymous_decisions_are_refused_and_never_written(page, pool, attacks):
    before = ANONYMOUS.labels("not_signed_in")._value.get()
    action_hash = await pool.fetchval("SELECT action_hash FROM approvals WHERE approval_id = 'ap-1'")
    flood, started = 500, time.perf_counter()
    statuses: Counter = Counter()
    async with client(page) as anonymous:
        for start in range(0, flood, 50):
            ids = ["ap-1" if i % 2 else "x" * 4000 for i in range(start, start + 50)]  # long ids too
            answers = await asyncio.gather(*(anonymous.post(f"/approvals/{i}/decide", data={
                "decision": "approve", "action_hash": action_hash}) for i in ids))
            statuses.update(a.status_code for a in answers)
    took = time.perf_counter() - started
    counted = ANONYMOUS.labels("not_signed_in")._value.get() - before
    written = await refusals_written(pool)
    attacks.record(f"anonymous decide flood ({flood} POSTs, half with 4,000-character ids)",
                   "403 each; no audit event written; counted in driftline_ui_refused_anonymous_total",
                   f"{dict(statuses)} in {took:.1f} s; {written} refusal events written; metric +{counted:g}",
                   statuses == Counter({403: flood}) and written == 0 and counted == flood)
    assert await status_of(pool, "ap-1") == "pending"


async def test_signed_in_people_only_decide_what_they_may(page, pool, attacks):
    async with client(page) as vic, client(page) as ada, client(page) as forger:
        await sign_in(vic, "vic", PASSWORDS["vic"])
        token = await sign_in(ada, "ada", PASSWORDS["ada"])
        await sign_in(forger, "bob", PASSWORDS["bob"])
        h1 = await pool.fetchval("SELECT action_hash FROM approvals WHERE approval_id = 'ap-1'")
        h2 = await pool.fetchval("SELECT action_hash FROM approvals WHERE approval_id = 'ap-ada'")
        vic_token = csrf_of((await vic.get("/history")).text)
        viewer = await vic.post("/approvals/ap-1/decide", data={"decision": "approve", "action_hash": h1,
                                                                "csrf_token": vic_token})
        own = await ada.post("/approvals/ap-ada/decide", data={"decision": "approve", "action_hash": h2,
                                                               "csrf_token": token})
        no_token = await forger.post("/approvals/ap-1/decide", data={"decision": "approve", "action_hash": h1})
    attacks.record("a viewer approves on the page", "403: viewers may not decide", f"{viewer.status_code}",
                   viewer.status_code == 403)
    attacks.record("a person approves a request they made themselves", "403: nobody approves their own request",
                   f"{own.status_code}", own.status_code == 403)
    attacks.record("a cross-site form posts a decision with a signed-in person's cookie (no CSRF token)",
                   "403: the form token is missing", f"{no_token.status_code}", no_token.status_code == 403)
    assert (await status_of(pool, "ap-1"), await status_of(pool, "ap-ada")) == ("pending", "pending")


async def test_guessing_passwords_is_throttled(page, pool, settings, attacks):
    async def attempt(browser: httpx.AsyncClient, token: str, name: str, password: str, address: str) -> int:
        answer = await browser.post("/login", data={"username": name, "password": password, "csrf_token": token},
                                    headers={"X-Forwarded-For": address})
        return answer.status_code

    async def guesses(pairs: list[tuple[str, str]], address, browsers: int = 20) -> tuple[Counter, float]:
        """All the pairs, `browsers` at a time (each fetched the sign-in form once, as a script would)."""
        statuses: Counter = Counter()
        started = time.perf_counter()
        clients = [client(page) for _ in range(browsers)]
        try:
            tokens = [csrf_of((await c.get("/login")).text) for c in clients]
            for start in range(0, len(pairs), browsers):
                statuses.update(await asyncio.gather(*(
                    attempt(c, t, *pairs[start + i], address(start + i))
                    for i, (c, t) in enumerate(zip(clients, tokens, strict=True)) if start + i < len(pairs))))
        finally:
            await asyncio.gather(*(c.aclose() for c in clients))
        return statuses, time.perf_counter() - started

    async def right_password(name: str, address: str) -> int:
        async with client(page) as browser:
            return await attempt(browser, csrf_of((await browser.get("/login")).text), name, PASSWORDS[name], address)

    one_user = [("bob", f"guess-{i}") for i in range(1000)]
    statuses, took = await guesses(one_user, lambda i: f"10.1.{i // 250}.{i % 250}")  # a new address each time
    right_one = await right_password("bob", "10.200.0.1")
    limit = settings.sign_in_failures_per_user
    attacks.record("1,000 wrong passwords for one person, 20 at a time, each from another address",
                   f"at most {limit} checked, then every attempt throttled (429), the right password too",
                   f"{dict(sorted(statuses.items()))} in {took:.1f} s; the right password then: {right_one}",
                   statuses[401] <= limit and statuses[429] >= 1000 - limit and right_one == 429)
    many_users = [(f"user{i}", "password1") for i in range(300)]
    statuses, took = await guesses(many_users, lambda i: "10.2.0.1")  # one address, a new name each time
    ada_there = await right_password("ada", "10.2.0.1")
    limit = settings.sign_in_failures_per_address
    attacks.record("300 sign-ins from one address, 20 at a time, a different user name each time",
                   f"at most {limit} checked, then the address is throttled (429)",
                   f"{dict(sorted(statuses.items()))} in {took:.1f} s; a right password from there: {ada_there}",
                   statuses[401] <= limit and statuses[429] >= 300 - limit and ada_there == 429)
    assert await right_password("ada", "10.3.0.1") == 303  # from elsewhere, ada still signs in


async def test_sessions_end_when_they_should(page, pool, attacks):
    async with client(page) as first, client(page) as second:
        await sign_in(first, "ada", PASSWORDS["ada"])
        token = await sign_in(second, "ada", PASSWORDS["ada"])
        changed = await second.post("/password", data={"password": "ada-new-secret-2", "repeat": "ada-new-secret-2",
                                                       "csrf_token": token})
        assert changed.status_code == 303
        after_change = await first.get("/history")
    attacks.record("an earlier session (a stolen cookie) used after the person changed their password",
                   "the session is over: sent to sign in", f"{after_change.status_code} to "
                   f"{after_change.headers.get('location')}", after_change.status_code == 303
                   and after_change.headers.get("location", "").startswith("/login"))
    async with client(page) as attacker:
        await sign_in(attacker, "vic", PASSWORDS["vic"])
        planted = attacker.cookies.get("driftline_session")
        async with client(page) as victim:
            victim.cookies.set("driftline_session", planted, domain="127.0.0.1")  # fixed before the victim signs in
            await sign_in(victim, "bob", PASSWORDS["bob"])
            fixed = victim.cookies.get("driftline_session") == planted
        replay = await attacker.get("/history")
    attacks.record("a session cookie planted in a victim's browser before they sign in (session fixation)",
                   "a new session id at sign-in; the planted one ends",
                   f"planted id {'kept' if fixed else 'replaced'}; planted cookie then gets {replay.status_code}",
                   not fixed and replay.status_code == 303)
    async with pool.acquire() as conn:
        one_time = await add_user(conn, "late", "approver")
        await conn.execute("UPDATE users SET password_expires_at = now() - interval '1 minute' WHERE name = 'late'")
    async with client(page) as late:
        form = await late.get("/login")
        expired = await late.post("/login", data={"username": "late", "password": one_time,
                                                  "csrf_token": csrf_of(form.text)})
    attacks.record("sign in with a one-time password after it expired", "403: the one-time password expired",
                   f"{expired.status_code}", expired.status_code == 403)


async def test_the_terminal_decides_only_with_the_persons_password(settings, database_url, pool, attacks):
    settings = settings.model_copy(update={"database_url": database_url})
    from tests.integration.agent_helpers import cli

    no_password = await cli(settings, "approvals", "approve", "ap-1", "--as", "bob")  # stdin is no terminal
    attacks.record("`driftline approvals approve ID --as bob` with no password", "exit 2: a decision needs a password",
                   f"exit {no_password[0]}: {no_password[1].strip().splitlines()[-1][:90]}",
                   no_password[0] == 2 and "needs your password" in no_password[1])
    for attack, person, password, words in (
            ("the terminal approves as bob with a wrong password", "bob", "not-bobs", "sign-in failed"),
            ("the terminal approves as bob with ada's password", "bob", PASSWORDS["ada"], "sign-in failed"),
            ("a viewer approves from the terminal with their own password", "vic", PASSWORDS["vic"], "refused")):
        code, out = await decide(settings, "approve", "ap-1", person, password=password)
        attacks.record(attack, f"exit 1: {words}", f"exit {code}: {out.strip().splitlines()[-1][:90]}",
                       code == 1 and words in out)
    assert await status_of(pool, "ap-1") == "pending"
