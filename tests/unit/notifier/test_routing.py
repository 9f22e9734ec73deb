"""Routing: which events notify whom, at what severity, with which report and link."""

from consumers.notifier.routing import route, severity_of
from schemas.action import ActionCompleted, ActionEscalated, ActionFailed
from tests.unit.reports.story import story

ROUTES = {"low": ["slack"], "medium": ["slack", "email"], "high": ["email"], "critical": ["email", "slack"]}
GROUPS = ["alert", "escalation", "approval", "promotion", "action"]
UI = "https://ops.example/"


def test_an_alert_goes_by_its_severity_with_the_drift_report_and_the_incident_link():
    s = story()
    note = route(s["alert"], ROUTES, GROUPS, UI)
    assert note.severity == "high"  # 0.6 is twice the 0.3 threshold
    assert note.channels == ("email",)
    assert note.report == ("drift", s["alert"].id)
    assert note.link == f"https://ops.example/incidents/{s['alert'].correlation_id}"
    assert ("Statistic", "share_drifted = 0.6000 (threshold 0.3000)") in note.facts


def test_a_stated_severity_label_wins():
    s = story()
    alert = s["alert"].model_copy(update={"data": s["alert"].data.model_copy(update={"labels": {"severity": "low"}})})
    assert severity_of(alert) == "low"
    assert route(alert, ROUTES, GROUPS, UI).channels == ("slack",)


def test_an_approval_request_links_to_its_approval_page():
    s = story()
    note = route(s["request"], ROUTES, GROUPS, UI)
    assert note.severity == "medium" and note.channels == ("slack", "email")
    assert note.link == "https://ops.example/approvals/appr-0001"
    assert note.report == ("incident", s["request"].correlation_id)


def test_promotion_carries_the_deployment_report_and_outcomes_the_incident_report():
    s = story(version="7")
    assert route(s["promoted"], ROUTES, GROUPS, UI).report == ("deployment", "7")
    assert route(s["completed"], ROUTES, GROUPS, UI).report == ("incident", s["completed"].correlation_id)


def test_escalation_severity_comes_from_the_event():
    s = story()
    esc = s["alert"].caused(ActionEscalated, source="agent", data=dict(model="m", reason="rejected",
                                                                        severity="critical"))
    assert route(esc, ROUTES, GROUPS, UI).channels == ("email", "slack")


def test_our_own_send_alert_outcomes_and_unrouted_groups_are_not_notified():
    s = story()
    own = s["alert"].caused(ActionFailed, source="consumers/notifier",
                            data=dict(action_id="a", kind="send_alert", model="m", error="smtp down"))
    assert route(own, ROUTES, GROUPS, UI) is None
    own_ok = s["alert"].caused(ActionCompleted, source="consumers/notifier",
                               data=dict(action_id="a", kind="send_alert", model="m"))
    assert route(own_ok, ROUTES, GROUPS, UI) is None
    assert route(s["alert"], ROUTES, ["promotion"], UI) is None
    assert route(s["diagnosis"], ROUTES, GROUPS, UI) is None  # not a routed event type
    assert route(s["alert"], {"high": []}, GROUPS, UI) is None


def test_the_agents_send_alert_is_delivered_on_its_channels_and_our_own_records_are_not():
    s = story()

    def agent_alert(channels, severity="high"):
        return s["alert"].caused(ActionCompleted, source="agent/executor", key=str(channels), data=dict(
            action_id="a1", kind="send_alert", model="m", summary="handed to the notifier",
            result={"message": "Incident on m: high data drift: `x` moved up", "channels": channels,
                    "severity": severity}))

    groups = [*GROUPS, "incident"]
    by_severity = route(agent_alert(["default"]), ROUTES, groups, UI)
    assert by_severity.group == "incident" and by_severity.severity == "high" and by_severity.channels == ("email",)
    assert by_severity.summary.startswith("Incident on m: high data drift")
    assert route(agent_alert(["slack"]), ROUTES, groups, UI).channels == ("slack",)  # the action's own channels
    assert route(agent_alert(["default"]), ROUTES, GROUPS, UI) is None  # the group is switched off
    own = agent_alert(["slack"]).model_copy(update={"source": "consumers/notifier"})
    assert route(own, ROUTES, groups, UI) is None  # a delivery record is no news


def test_a_promotion_goes_by_email_by_default_with_its_deployment_report_linked_on_the_page():
    from infra.settings import Settings

    s, settings = story(version="7"), Settings()
    note = route(s["promoted"], settings.notify_routes, settings.notify_events, UI, settings.notify_group_routes)
    assert note.severity == "low" and "email" in note.channels  # its group's route, over the low severity's
    assert note.report == ("deployment", "7")
    assert note.report_link == "https://ops.example/reports/deployment/deployment-v7.pdf"
    # without group routes, a low-severity event goes by its severity's channels only
    assert route(s["promoted"], settings.notify_routes, settings.notify_events, UI).channels == ("slack",)
    alert = route(s["alert"], ROUTES, GROUPS, UI)
    assert alert.report_link == f"https://ops.example/reports/drift/drift-{s['alert'].id}.pdf"
