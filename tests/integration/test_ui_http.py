"""The approval page over HTTP on real servers: sign-in, CSRF, roles, self-approval, second decisions,
person-started actions, reports; every refusal ends up in the audit log."""

from __future__ import annotations

import json

import httpx
import pytest

from agent.approvals.desk import ApprovalDesk
from agent.approvals.keys import decision_signer
from infra.db import connect_pool
from infra.users import add_user
from schemas import PredictionMade
from tests.integration.audit_helpers import project_all
from tests.integration.ui_helpers import csrf_of, flush_outbox, pend, request_event, sign_in
from ui.app import create_app
from ui.routes_approvals import ANONYMOUS

pytestmark = pytest.mark.integration
PASSWORDS = {"ada": "ada-secret-1", "bob": "bob-secret-1", "vic": "vic-secret-1", "root": "root-secret1",
             "root2": "root2-secret"}
ROLES = {"ada": "approver", "bob": "approver", "vic": "viewer", "root": "admin", "root2": "admin"}


@pytest.fixture
async def pool(database_url):
    p = await connect_pool(database_url, max_size=5)
    async with p.acquire() as conn:
        for name, role in ROLES.items():
            await add_user(conn, name, role, password=PASSWORDS[name])
    yield p
    await p.close()


@pytest.fixture
async def app(settings, bus, pool, role_url):
    """The page on its own database role (driftline_ui), as `driftline serve ui` runs it; `pool` (the admin's)
    only sets up and checks."""
    page = await connect_pool(role_url("ui"), max_size=5)
    yield create_app(settings, bus, page, ApprovalDesk(page, decision_signer(settings)))
    await page.close()


def client_for(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def as_user(app, name: str) -> tuple[httpx.AsyncClient, str]:
    client = client_for(app)
    return client, await sign_in(client, name, PASSWORDS[name])


async def decide(client, approval_id, token, decision="approve", action_hash=None, pool=None):
    if action_hash is None:
        async with pool.acquire() as conn:
            action_hash = await conn.fetchval("SELECT action_hash FROM approvals WHERE approval_id = $1", approval_id)
    data = {"decision": decision, "comment": "looked at it", "action_hash": action_hash}
    if token is not None:
        data["csrf_token"] = token
    return await client.post(f"/approvals/{approval_id}/decide", data=data)


async def test_sign_in_cookies_and_pages(app, bus, pool, settings):
    client = client_for(app)
    assert (await client.get("/")).status_code == 303  # not signed in: to the sign-in page
    form = await client.get("/login")
    bad = await client.post("/login", data={"username": "ada", "password": "nope", "csrf_token": csrf_of(form.text)})
    assert bad.status_code == 401
    no_token = await client.post("/login", data={"username": "ada", "password": PASSWORDS["ada"]})
    assert no_token.status_code == 403
    form = await client.get("/login")
    ok = await client.post("/login", data={"username": "ada", "password": PASSWORDS["ada"],
                                           "csrf_token": csrf_of(form.text)})
    for cookie in ok.headers.get_list("set-cookie") + form.headers.get_list("set-cookie"):
        assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower(), cookie
    await pend(bus, pool, request_event())
    await bus.publish_many([PredictionMade(source="inference/worker", subject=settings.model_name, data=dict(
        request_id=f"r{i}", model=settings.model_name, model_version="1", features={"x": 1.0}, predicted_class=1,
        probabilities={"0": 0.2, "1": 0.8}, latency_ms=2.0 + i % 5, channel="bus")) for i in range(40)])
    for path in ("/", "/history", "/incidents", "/models", "/trends", "/actions", "/approvals/ap-1",
                 "/fragments/pending"):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "ap-1" in (await client.get("/")).text
    trends = (await client.get("/trends")).text
    assert "Request latency, latest predictions" in trends and ">ms<" in trends and ">p95<" in trends
    assert "Features drifted" in trends
    assert "Quality of the champion" in trends  # no window yet: the empty chart says what will be there


async def test_one_time_password_must_be_replaced(app, pool):
    async with pool.acquire() as conn:
        one_time = await add_user(conn, "newbie", "approver")
    client = client_for(app)
    form = await client.get("/login")
    signed = await client.post("/login", data={"username": "newbie", "password": one_time,
                                               "csrf_token": csrf_of(form.text)})
    assert signed.headers["location"] == "/password"
    assert (await client.get("/")).headers["location"] == "/password"  # nothing else until a password is chosen
    other = client_for(app)  # the same person in another browser (or someone holding a copy of the cookie)
    form = await other.get("/login")
    await other.post("/login", data={"username": "newbie", "password": one_time, "csrf_token": csrf_of(form.text)})
    assert (await other.get("/password")).status_code == 200
    token = csrf_of((await client.get("/password")).text)
    short = await client.post("/password", data={"password": "short", "repeat": "short", "csrf_token": token})
    assert short.status_code == 400
    forged = await client.post("/password", data={"password": "long-enough-1", "repeat": "long-enough-1"})
    assert forged.status_code == 403
    done = await client.post("/password", data={"password": "long-enough-1", "repeat": "long-enough-1",
                                                 "csrf_token": token})
    assert done.status_code == 303 and (await client.get("/")).status_code == 200
    assert (await other.get("/password")).status_code == 303  # a password change ends every other session
    assert (await client.post("/logout", data={"csrf_token": token})).status_code == 403  # a new session, a new token
    token = csrf_of((await client.get("/history")).text)
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303 and (await client.get("/")).status_code == 303  # the session row is gone
    again = client_for(app)
    assert await sign_in(again, "newbie", "long-enough-1")
    assert (await client.get("/approvals/ap-1/decide")).status_code == 405  # GET changes nothing


async def test_refusals_are_http_errors_and_audit_events(app, bus, pool):
    anonymous_before = {r: ANONYMOUS.labels(r)._value.get() for r in ("not_signed_in", "bad_csrf")}
    await pend(bus, pool, request_event("ap-agent"))
    await pend(bus, pool, request_event("ap-ada", requested_by="ada"))
    ada, ada_token = await as_user(app, "ada")
    vic, vic_token = await as_user(app, "vic")
    bob, bob_token = await as_user(app, "bob")
    anonymous = client_for(app)

    assert (await decide(ada, "ap-agent", None, pool=pool)).status_code == 403  # no CSRF token
    assert (await decide(ada, "ap-agent", "forged", pool=pool)).status_code == 403  # wrong CSRF token
    assert (await decide(ada, "ap-agent", vic_token, pool=pool)).status_code == 403  # someone else's token
    assert (await decide(vic, "ap-agent", vic_token, pool=pool)).status_code == 403  # a viewer
    assert (await decide(anonymous, "ap-agent", "x", pool=pool)).status_code == 403  # not signed in
    assert (await decide(ada, "ap-ada", ada_token, pool=pool)).status_code == 403  # self-approval
    assert (await decide(ada, "ap-agent", ada_token, action_hash="0" * 64)).status_code == 409  # changed action
    first = await decide(ada, "ap-agent", ada_token, pool=pool)
    assert first.status_code == 303 and first.headers["location"].startswith("/incidents/")
    assert (await decide(bob, "ap-agent", bob_token, "reject", pool=pool)).status_code == 409  # second decision
    assert (await decide(bob, "nope", bob_token, pool=pool)).status_code == 404
    assert (await decide(bob, "../" * 40, bob_token, pool=pool)).status_code == 404  # not an id: never stored

    await flush_outbox(bus, pool)
    await project_all(bus, pool, every=0)
    async with pool.acquire() as conn:
        refused = await conn.fetch(
            "SELECT canonical::jsonb -> 'data' AS d FROM audit_log WHERE type = 'driftline.approval.refused.v1' "
            "ORDER BY seq")
        decided = await conn.fetch("SELECT canonical::jsonb -> 'data' AS d, correlation_id FROM audit_log "
                                   "WHERE type = 'driftline.approval.decided.v1'")
        row = await conn.fetchrow("SELECT * FROM approvals WHERE approval_id = 'ap-agent'")
    reasons = [(json.loads(r["d"])["attempted_by"], json.loads(r["d"])["reason"]) for r in refused]
    # Only signed-in people's attempts are audit events; without a session or form token they are counted.
    assert reasons == [("vic", "not_allowed"), ("ada", "self_approval"), ("ada", "action_changed"),
                       ("bob", "already_decided"), ("bob", "unknown_request")]
    assert ANONYMOUS.labels("not_signed_in")._value.get() - anonymous_before["not_signed_in"] == 1
    assert ANONYMOUS.labels("bad_csrf")._value.get() - anonymous_before["bad_csrf"] == 3
    [d] = decided
    assert json.loads(d["d"]) | {} == json.loads(d["d"]) and json.loads(d["d"])["decided_by"] == "ada"
    assert json.loads(d["d"])["via"] == "web" and d["correlation_id"] == row["correlation_id"]
    assert row["status"] == "approved" and row["decided_by"] == "ada"


async def test_person_started_actions(app, bus, pool):
    root, root_token = await as_user(app, "root")
    ada, ada_token = await as_user(app, "ada")
    vic, vic_token = await as_user(app, "vic")
    root2, root2_token = await as_user(app, "root2")
    # Only an admin starts a deletion; only another admin approves it.
    assert (await ada.post("/actions/delete-data", data={"dataset": "d", "reason": "gdpr",
                                                         "csrf_token": ada_token})).status_code == 403
    assert (await root.post("/actions/delete-data", data={"dataset": "d", "reason": "gdpr"})).status_code == 403
    started = await root.post("/actions/delete-data", data={"dataset": "customers-2024", "reason": "erasure request",
                                                            "csrf_token": root_token})
    assert started.status_code == 303
    approval_id = started.headers["location"].rsplit("/", 1)[1]
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM approvals WHERE approval_id = $1", approval_id)
    assert row["required_role"] == "admin" and row["requested_by"] == "root"
    assert (await decide(ada, approval_id, ada_token, pool=pool)).status_code == 403  # an approver is not enough
    assert (await decide(root, approval_id, root_token, pool=pool)).status_code == 403  # not their own
    assert (await decide(root2, approval_id, root2_token, pool=pool)).status_code == 303
    # A rollback: any approver starts it, another approves it; a viewer can do neither.
    assert (await vic.post("/actions/rollback", data={"to_version": "1", "reason": "x",
                                                      "csrf_token": vic_token})).status_code == 403
    started = await ada.post("/actions/rollback", data={"to_version": "3", "reason": "v4 is worse",
                                                        "csrf_token": ada_token})
    rollback_id = started.headers["location"].rsplit("/", 1)[1]
    assert (await decide(ada, rollback_id, ada_token, pool=pool)).status_code == 403
    assert (await decide(root2, rollback_id, root2_token, pool=pool)).status_code == 303
    await flush_outbox(bus, pool)
    await project_all(bus, pool, every=0)
    async with pool.acquire() as conn:
        requested = await conn.fetch("SELECT canonical::jsonb #>> '{data,requested_by}' AS by, "
                                     "canonical::jsonb #>> '{data,action,kind}' AS kind FROM audit_log "
                                     "WHERE type = 'driftline.approval.requested.v1' ORDER BY seq")
    assert [(r["by"], r["kind"]) for r in requested] == [("root", "delete_data"), ("ada", "rollback_model")]


async def test_reports_are_served_read_only_to_signed_in_people(app, settings):
    folder = settings.reports_dir / "evidently"
    folder.mkdir(parents=True)
    (folder / "w1.html").write_text("<html><body>evidently report</body></html>")
    (settings.data_dir / "secret.txt").write_text("not for you")
    anonymous = client_for(app)
    assert (await anonymous.get("/reports/evidently/w1.html")).status_code == 303
    ada, _ = await as_user(app, "ada")
    page = await ada.get("/reports/evidently/w1.html")
    assert page.status_code == 200 and "evidently report" in page.text
    for path in ("/reports/../secret.txt", "/reports/%2e%2e/secret.txt", "/reports/evidently/../../secret.txt",
                 "/reports//etc/passwd"):
        response = await ada.get(path)
        assert response.status_code == 404 and "not for you" not in response.text, path
    assert (await ada.post("/reports/evidently/w1.html")).status_code == 405


async def test_report_pdfs_open_in_the_browser_by_validated_name_for_signed_in_people(app, settings):
    from consumers.reports.names import KINDS, relative_path
    from ui.routes_audit import PDF_KINDS

    assert PDF_KINDS == KINDS  # the page serves every kind the builder writes (the page may not import it)
    pdf = settings.reports_dir / relative_path("deployment", "7")
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.7 a deployment report")
    (settings.reports_dir / "deployment" / "notes.txt").write_text("not a report")
    anonymous = client_for(app)
    assert (await anonymous.get("/reports/deployment/deployment-v7.pdf")).status_code == 303
    ada, _ = await as_user(app, "ada")
    page = await ada.get("/reports/deployment/deployment-v7.pdf")
    assert page.status_code == 200 and page.content == b"%PDF-1.7 a deployment report"
    assert page.headers["content-type"] == "application/pdf" and "inline" in page.headers["content-disposition"]
    assert "sandbox" not in page.headers.get("content-security-policy", "")  # the browser's PDF viewer may run
    assert page.headers["x-frame-options"] == "DENY"
    missing = await ada.get("/reports/deployment/deployment-v8.pdf")
    assert missing.status_code == 404 and "not built yet" in missing.text
    for path in ("/reports/secrets/secrets-x.pdf", "/reports/deployment/drift-1.pdf",
                 "/reports/deployment/deployment-..%2F..%2Fui_secret.pdf", "/reports/deployment/.hidden.pdf"):
        response = await ada.get(path)
        assert response.status_code == 404, path


async def test_sign_in_is_throttled_and_one_time_passwords_expire(app, pool, settings):
    client = client_for(app)

    async def attempt(name, password):
        form = await client.get("/login")
        return await client.post("/login", data={"username": name, "password": password,
                                                 "csrf_token": csrf_of(form.text)})

    for _ in range(settings.sign_in_failures_per_user):
        assert (await attempt("bob", "guess")).status_code == 401
    throttled = await attempt("bob", PASSWORDS["bob"])  # even the right password waits: the guesser must not learn
    assert throttled.status_code == 429 and "Too many failed sign-ins" in throttled.text
    assert (await attempt("ada", PASSWORDS["ada"])).status_code == 303  # another person is not locked out
    async with pool.acquire() as conn:
        one_time = await add_user(conn, "late", "approver")
        await conn.execute("UPDATE users SET password_expires_at = now() - interval '1 minute' WHERE name = 'late'")
    expired = await attempt("late", one_time)
    assert expired.status_code == 403 and "one-time password expired" in expired.text
