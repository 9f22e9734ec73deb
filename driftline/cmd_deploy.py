"""`driftline deploy VERSION`: ask for a registry version to become champion; another person approves it."""

from __future__ import annotations

import json
import socket
from typing import Annotated

import typer

from driftline.cmd_approvals import AsOption, StdinOption, _password
from driftline.common import DataDir, JsonFlag, check_mlflow, connect_db, fail, load_settings, run


def deploy(
    version: Annotated[str, typer.Argument(metavar="VERSION", help="Registry version of the model to deploy, e.g. 3.")],
    as_user: AsOption,
    reason: Annotated[str, typer.Option(help="Why; the approver reads it.")] = "",
    password_stdin: StdinOption = False,
    as_json: JsonFlag = False,
    data_dir: DataDir = None,
) -> None:
    """Ask for VERSION to become champion. The request waits for a second person's approval (`driftline approvals
    approve ID`, or the page); then the executor moves the champion alias and gateways and workers serve it.
    A version the registry does not have is refused and nothing is requested."""
    from agent.approvals import book
    from agent.approvals.desk import person_request
    from infra.users import sign_in
    from ui.deploy import DeployRefused, deploy_request, look_up
    from ui.routes_actions import EXPIRY

    settings = load_settings(data_dir)
    password = _password(password_stdin)
    check_mlflow(settings)

    async def _go():
        conn = await connect_db(settings)
        try:
            attempt = await sign_in(conn, as_user, password, f"cli:{socket.gethostname()}", settings.sign_in_limits)
            person = attempt.user
            if person is None:
                return None, f"sign-in failed: {attempt.words()}"
            if person.must_change_password:
                return None, (f"{as_user} still has a one-time password: sign in on the approval page once to choose "
                              "your own, then ask here")
            if not person.can_decide("approver"):
                return None, f"{as_user} is a {person.role}: only an approver or an admin may ask for a deployment"
            try:
                target, champion = await look_up(settings, version)
            except DeployRefused as exc:
                return None, f"{exc}; nothing was requested"
            asked = deploy_request(person.name, settings.model_name, target, champion, reason.strip()[:500],
                                   settings.selection_metric)
            event = person_request(person.name, asked.action, summary=asked.summary, predicted_impact=asked.impact,
                                   ttl=EXPIRY, source="cli")
            await book.record_request(conn, event)
            return event, None
        finally:
            await conn.close()

    event, problem = run(_go())
    if problem:
        fail(problem)
    d = event.data
    if as_json:
        typer.echo(json.dumps({"approval_id": d.approval_id, "action": d.action.model_dump(mode="json"),
                               "action_hash": d.action_hash, "requested_by": d.requested_by,
                               "predicted_impact": d.predicted_impact, "expires_at": d.expires_at.isoformat()}))
        return
    typer.echo(f"{d.approval_id} asks to deploy {d.action.model} version {d.action.params['version']}; another "
               f"approver decides it: driftline approvals approve {d.approval_id} --as NAME\n    {d.predicted_impact}")
