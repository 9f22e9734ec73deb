"""`driftline approvals`: decide from the terminal under the same rules as the web page."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Literal, Optional

import asyncpg
import typer

from driftline.common import database_dsn, fail, load_settings, run

app = typer.Typer(help="Pending approvals: list, approve, reject.", no_args_is_help=True)


@app.command("list")
def list_(as_json: Annotated[bool, typer.Option("--json", help="JSON lines.")] = False) -> None:
    """List approval requests waiting for a decision."""
    from agent.approvals.read import pending
    from agent.recommend import approval_ratio

    async def _list():
        conn = await _connect()
        try:
            return await pending(conn), await approval_ratio(conn)
        finally:
            await conn.close()

    rows, ratio = run(_list())
    for row in rows:
        action = json.loads(row["action"])
        if as_json:
            typer.echo(json.dumps({"approval_id": row["approval_id"], "correlation_id": row["correlation_id"],
                                   "model": row["model"], "action": action, "action_hash": row["action_hash"],
                                   "requested_by": row["requested_by"], "summary": row["summary"],
                                   "severity": row["severity"], "requested_at": row["requested_at"].isoformat(),
                                   "expires_at": row["expires_at"].isoformat()}))
        else:
            params = ", ".join(f"{k}={v}" for k, v in action["params"].items()) or "no parameters"
            typer.echo(f"{row['approval_id']}  {action['kind']} on {row['model']} ({params})  "
                       f"expires {row['expires_at']:%Y-%m-%d %H:%M} UTC  hash {row['action_hash'][:12]}\n"
                       f"    {row['summary']}")
    if not as_json:
        typer.echo(f"{len(rows)} pending. Recommend-only report: {ratio.describe()}.")


def _password(from_stdin: bool) -> str:
    """The person's password: from stdin for scripts, else asked for without echo; never a flag (shell history)."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if not sys.stdin.isatty():
        fail("a decision needs your password: type it at the prompt, or pipe it with --password-stdin", code=2)
    return typer.prompt("password", hide_input=True)


def _decide(approval_id: str, user_name: str, decision: Literal["approve", "reject"], comment: str,
            seen_hash: str | None, password_stdin: bool) -> None:
    """Sign the person in, then decide through the approvals owner (row and announcement in one transaction: the
    decision holds even while the bus is down, and is published when it is back)."""
    from agent.approvals import book
    from agent.approvals.keys import decision_signer
    from agent.approvals.read import get
    from infra.users import authenticate
    from schemas.envelope import utcnow

    settings = load_settings()
    password = _password(password_stdin)

    async def _go():
        conn = await _connect(settings)
        try:
            person = await authenticate(conn, user_name, password)
            if person is None:
                return None, "sign-in failed: wrong user name or password"
            if person.must_change_password:
                return None, (f"{user_name} still has a one-time password: sign in on the approval page once to "
                              "choose your own, then decide here")
            current = await get(conn, approval_id) if book.valid_id(approval_id) else None
            shown = current["action_hash"] if current else ""
            if seen_hash and not (len(seen_hash) >= 12 and shown.startswith(seen_hash)):  # `list` shows 12
                shown = seen_hash
            return await book.decide(conn, approval_id, person, decision, shown, utcnow(),
                                     signer=decision_signer(settings), comment=comment, via="cli"), None
        finally:
            await conn.close()

    verdict, problem = run(_go())
    if problem:
        fail(problem)
    if verdict.refusal:
        fail(f"refused ({verdict.refusal.reason}): {verdict.refusal.detail}")
    typer.echo(f"{approval_id} {'approved' if decision == 'approve' else 'rejected'} by {user_name}")


async def _connect(settings=None) -> asyncpg.Connection:
    settings = settings or load_settings()
    try:
        return await asyncpg.connect(await database_dsn(settings), timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        fail(f"cannot reach PostgreSQL ({exc}); is `driftline up` running, or DRIFTLINE_DATABASE_URL set?")


HashOption = Annotated[Optional[str], typer.Option("--action-hash", help="Hash of the action you reviewed "
                                                   "(from `list`); the decision is refused if the action changed.")]
AsOption = Annotated[str, typer.Option("--as", help="Your user name; you are asked for your password.")]
StdinOption = Annotated[bool, typer.Option("--password-stdin", help="Read your password from the first line of "
                                           "stdin (for scripts) instead of asking.")]


@app.command()
def approve(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: AsOption,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    action_hash: HashOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """Approve a pending request (you sign in with your password; nobody approves their own request)."""
    _decide(approval_id, as_user, "approve", comment, action_hash, password_stdin)


@app.command()
def reject(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: AsOption,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    action_hash: HashOption = None,
    password_stdin: StdinOption = False,
) -> None:
    """Reject a pending request (the incident is escalated to a person)."""
    _decide(approval_id, as_user, "reject", comment, action_hash, password_stdin)
