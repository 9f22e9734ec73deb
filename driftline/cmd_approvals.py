"""`driftline approvals`: decide from the terminal under the same rules as the web page."""

from __future__ import annotations

import json
from typing import Annotated, Literal, Optional

import typer

from driftline.common import DataDir, JsonFlag, connect_bus, connect_db, fail, load_settings, run

app = typer.Typer(help="Pending approvals: list, approve, reject.", no_args_is_help=True)


@app.command("list")
def list_(as_json: JsonFlag = False, data_dir: DataDir = None) -> None:
    """List approval requests waiting for a decision."""
    from agent.recommend import approval_ratio
    from infra import approvals

    settings = load_settings(data_dir)

    async def _list():
        conn = await _connect(settings)
        try:
            return await approvals.pending(conn), await approval_ratio(conn)
        finally:
            await conn.close()

    rows, ratio = run(_list())
    if as_json:  # one document: {"pending": [...], "agent_proposals": {...}}
        typer.echo(json.dumps({"pending": [
            {"approval_id": row["approval_id"], "correlation_id": row["correlation_id"], "model": row["model"],
             "action": json.loads(row["action"]), "action_hash": row["action_hash"],
             "requested_by": row["requested_by"], "summary": row["summary"],
             "requested_at": row["requested_at"].isoformat(), "expires_at": row["expires_at"].isoformat()}
            for row in rows], "agent_proposals": {"proposed": ratio.proposed, "approved": ratio.approved,
                                                  "rejected": ratio.rejected, "expired": ratio.expired,
                                                  "approval_ratio": ratio.ratio}}))
        return
    for row in rows:
        action = json.loads(row["action"])
        params = ", ".join(f"{k}={v}" for k, v in action["params"].items()) or "no parameters"
        typer.echo(f"{row['approval_id']}  {action['kind']} on {row['model']} ({params})  "
                   f"expires {row['expires_at']:%Y-%m-%d %H:%M} UTC  hash {row['action_hash'][:12]}\n"
                   f"    {row['summary']}")
    typer.echo(f"{len(rows)} pending. Recommend-only report: {ratio.describe()}.")


def _decide(approval_id: str, user_name: str, decision: Literal["approve", "reject"], comment: str,
            seen_hash: str | None, data_dir=None) -> None:
    from infra import approvals
    from infra.users import get_user
    from schemas import ApprovalDecided, ApprovalRefused
    from schemas.approval import Decision, Refusal
    from schemas.envelope import utcnow

    settings = load_settings(data_dir)

    async def _go():
        conn = await _connect(settings)
        try:
            user = await get_user(conn, user_name)
            current = await approvals.get(conn, approval_id)
            shown = current["action_hash"] if current else ""
            if seen_hash and not (len(seen_hash) >= 12 and shown.startswith(seen_hash)):  # `list` shows 12
                shown = seen_hash
            row, refusal = await approvals.decide(conn, approval_id, user, decision, shown, utcnow(), comment, "cli")
        finally:
            await conn.close()
        bus = await connect_bus(settings, "driftline-approvals-cli")
        try:
            common = dict(source="cli/approvals", subject=row["model"] if row else "unknown",
                          correlation_id=row["correlation_id"] if row else "",
                          causation_id=row["request_event_id"] if row else None)
            if refusal:  # every refused attempt is an audit event
                await bus.publish(ApprovalRefused(**common, data=Refusal(
                    approval_id=approval_id, attempted_by=user_name, decision=decision, reason=refusal.reason,
                    detail=refusal.detail)))
                return refusal
            await bus.publish(ApprovalDecided(**common, data=Decision(
                approval_id=approval_id, decision=decision, decided_by=user_name, action_hash=row["action_hash"],
                comment=comment, via="cli")))
            return None
        finally:
            await bus.close()

    refusal = run(_go())
    if refusal:
        fail(f"refused ({refusal.reason}): {refusal.detail}")
    typer.echo(f"{approval_id} {'approved' if decision == 'approve' else 'rejected'} by {user_name}")


async def _connect(settings):
    return await connect_db(settings)


HashOption = Annotated[Optional[str], typer.Option("--action-hash", help="Hash of the action you reviewed "
                                                   "(from `list`); the decision is refused if the action changed.")]


@app.command()
def approve(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[str, typer.Option("--as", help="Your user name.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    action_hash: HashOption = None,
    data_dir: DataDir = None,
) -> None:
    """Approve a pending request."""
    _decide(approval_id, as_user, "approve", comment, action_hash, data_dir)


@app.command()
def reject(
    approval_id: Annotated[str, typer.Argument(metavar="ID")],
    as_user: Annotated[str, typer.Option("--as", help="Your user name.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    action_hash: HashOption = None,
    data_dir: DataDir = None,
) -> None:
    """Reject a pending request (the incident is escalated)."""
    _decide(approval_id, as_user, "reject", comment, action_hash, data_dir)
