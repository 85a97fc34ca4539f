"""API writes: actions (create, PATCH with lock_version → 409), workflow, measurements; errors with stable codes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from chancery.accounts.services import issue_api_token
from chancery.planning import services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Programme

YEAR = 2026


def api(ministry: Any, username: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=ministry.users[username])}")


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


def _json(client: Client, method: str, url: str, data: Any = None) -> tuple[int, Any]:
    response = getattr(client, method)(url, data, content_type="application/json")
    return response.status_code, (response.json() if response.content else None)


def test_create_and_patch_action_with_conflict(ministry: Any, dakar: Programme) -> None:
    client = api(ministry, "counsellor.dakar")
    axis = Axis.objects.unrestricted("t").filter(programme=dakar).first()
    assert axis is not None
    status, created = _json(client, "post", "/api/v1/actions", {
        "programme": dakar.pk, "axis": axis.pk, "title": "Business forum", "start_date": f"{YEAR}-04-01",
        "end_date": f"{YEAR + 1}-01-15", "budget_requested": "1500.50", "currency": "usd",
        "partner_units": ["DAB/1"], "lead": "hom.dakar",
    })
    assert status == 201, created
    assert created["currency"] == "USD" and created["partner_units"] == ["DAB/1"] and created["lead"] == "hom.dakar"
    assert created["warnings"] and f"{YEAR + 1}-01-15" in created["warnings"][0]  # multi-year: a warning, not an error
    pk, version = created["id"], created["lock_version"]
    # Two clients read the same version; the first PATCH wins, the second gets 409 and nothing is lost.
    status, first = _json(client, "patch", f"/api/v1/actions/{pk}", {"lock_version": version, "progress": 30})
    assert status == 200 and first["progress"] == 30 and first["lock_version"] == version + 1
    other = api(ministry, "hom.dakar")
    status, second = _json(other, "patch", f"/api/v1/actions/{pk}", {"lock_version": version, "title": "Overwrite"})
    assert status == 409 and second["code"] == "conflict" and second["current_lock_version"] == version + 1
    action = Action.objects.unrestricted("t").get(pk=pk)
    assert action.title == "Business forum" and action.progress == 30
    status, third = _json(other, "patch", f"/api/v1/actions/{pk}", {"lock_version": version + 1, "title": "Renamed"})
    assert status == 200 and third["title"] == "Renamed" and third["progress"] == 30


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"start_date": f"{YEAR}-05-01", "end_date": f"{YEAR}-04-01"}, "end_date"),
        ({"budget_requested": "-1"}, "budget_requested"),
        ({"budget_spent": "-0.01"}, "budget_spent"),
        ({"progress": 101}, "progress"),
        ({"progress": -1}, "progress"),
        ({"currency": "EURO"}, "currency"),
        ({"priority": "urgent"}, "priority"),
        ({"status": "maybe"}, "status"),
        ({"lead": "nobody.here"}, "lead"),
        ({"partner_units": ["NOPE"]}, "partner_units"),
    ],
)
def test_invalid_action_data_is_422(ministry: Any, dakar: Programme, payload: dict[str, Any], field: str) -> None:
    client = api(ministry, "counsellor.dakar")
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    status, body = _json(client, "patch", f"/api/v1/actions/{action.pk}", {"lock_version": action.lock_version,
                                                                           **payload})
    assert status == 422, body
    assert body["code"] == "invalid" and field in body["errors"], body
    fresh = Action.objects.unrestricted("t").get(pk=action.pk)
    assert fresh.lock_version == action.lock_version  # nothing saved


def test_visible_but_not_allowed_is_403(ministry: Any, dakar: Programme) -> None:
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    status, body = _json(api(ministry, "desk.dab1"), "patch", f"/api/v1/actions/{action.pk}",
                         {"lock_version": action.lock_version, "title": "x"})
    assert status == 403 and body["code"] == "forbidden"
    status, body = _json(api(ministry, "counsellor.dakar"), "post", f"/api/v1/programmes/{dakar.pk}/submit", {})
    assert status == 403 and body["code"] == "forbidden"


def test_workflow_through_the_api(ministry: Any, dakar: Programme) -> None:
    status, body = _json(api(ministry, "plan.sg4"), "post", f"/api/v1/programmes/{dakar.pk}/approve", {})
    assert status == 409 and body["code"] == "invalid_state"
    status, listed = _json(api(ministry, "plan.sg4"), "get", "/api/v1/programmes?limit=200")
    assert status == 200 and {p["id"]: p["baseline_version"] for p in listed["items"]} == {dakar.pk: None}
    status, body = _json(api(ministry, "hom.dakar"), "post", f"/api/v1/programmes/{dakar.pk}/submit", {"reason": "v1"})
    assert status == 200 and body["status"] == "submitted" and body["current_version"] == 1
    status, body = _json(api(ministry, "plan.sg4"), "post", f"/api/v1/programmes/{dakar.pk}/approve", {})
    assert status == 200 and body["status"] == "approved" and body["baseline_version"] == 2
    # The list reads the baseline's number without the version (`selectors.programme_list`): the same.
    status, listed = _json(api(ministry, "plan.sg4"), "get", "/api/v1/programmes?limit=200")
    assert status == 200 and {p["id"]: p["baseline_version"] for p in listed["items"]} == {dakar.pk: 2}
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    status, _body = _json(api(ministry, "counsellor.dakar"), "patch", f"/api/v1/actions/{action.pk}",
                          {"lock_version": action.lock_version, "end_date": f"{YEAR}-12-01"})
    assert status == 200
    status, body = _json(api(ministry, "desk.dab1"), "get", f"/api/v1/programmes/{dakar.pk}/baseline-comparison")
    assert status == 200 and body["baseline_version"] == 2
    assert [c["id"] for c in body["diff"]["actions_redated"]] == [action.pk]
    assert body["diff"]["actions_redated"][0]["changes"]["end_date"]["new"] == f"{YEAR}-12-01"
    status, body = _json(api(ministry, "counsellor.dakar"), "post", f"/api/v1/programmes/{dakar.pk}/revise",
                         {"reason": "Calendar"})
    assert status == 403  # the head of mission proposes revisions
    status, body = _json(api(ministry, "hom.dakar"), "post", f"/api/v1/programmes/{dakar.pk}/revise",
                         {"reason": "Calendar"})
    assert status == 200 and body["current_version"] == 2 and body["revision_proposed_at"]
    status, body = _json(api(ministry, "plan.sg4"), "post", f"/api/v1/programmes/{dakar.pk}/revision/approve",
                         {"budgets": {str(action.pk): "1234.50"}})
    assert status == 200 and body["current_version"] == 3 and body["revision_proposed_at"] is None
    action.refresh_from_db()
    assert action.budget_approved == Decimal("1234.50")
    status, body = _json(api(ministry, "desk.dab1"), "get", f"/api/v1/programmes/{dakar.pk}/versions")
    assert [v["kind"] for v in body] == ["revision", "baseline", "submitted"]


def test_measurements_and_closed_period(ministry: Any, dakar: Programme) -> None:
    indicator = Indicator.objects.unrestricted("t").filter(programme=dakar).first()
    assert indicator is not None
    client = api(ministry, "counsellor.dakar")
    status, body = _json(client, "post", f"/api/v1/indicators/{indicator.pk}/measurements",
                         {"period_type": "quarter", "period_start": f"{YEAR}-01-01", "value": "61.5",
                          "evidence": "https://example.org/stats"})
    assert status == 201 and body["period_end"] == f"{YEAR}-03-31" and Decimal(body["value"]) == Decimal("61.5")
    status, body = _json(client, "get", f"/api/v1/indicators/{indicator.pk}/measurements")
    assert status == 200 and len(body) == 1
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    services.approve_programme(user=ministry.users["plan.sg4"], programme=dakar)
    periods = services.create_reporting_periods(user=ministry.users["hom.dakar"], programme=dakar)
    services.close_reporting_period(user=ministry.users["hom.dakar"], period=periods[0])
    status, body = _json(client, "post", f"/api/v1/indicators/{indicator.pk}/measurements",
                         {"period_type": "month", "period_start": f"{YEAR}-02-01", "value": "1"})
    assert status == 409 and body["code"] == "invalid_state"
    status, body = _json(api(ministry, "desk.dab1"), "post", f"/api/v1/indicators/{indicator.pk}/measurements",
                         {"period_type": "year", "period_start": f"{YEAR}-01-01", "value": "1"})
    assert status == 403


def test_filters_and_create_programme(ministry: Any, dakar: Programme) -> None:
    planner = api(ministry, "plan.sg4")
    sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=ministry.users["hom.lima"], actions_per_axis=1)
    status, body = _json(planner, "get", "/api/v1/programmes?year=2026")
    assert status == 200 and body["count"] == 2
    status, body = _json(planner, "get", "/api/v1/programmes?mission=LIMA&status=draft")
    assert [p["mission"] for p in body["items"]] == ["LIMA"]
    status, body = _json(planner, "get", f"/api/v1/actions?programme={dakar.pk}&axis=economic")
    assert body["count"] == 2 and {a["axis"] for a in body["items"]} == {"economic"}
    status, body = _json(planner, "get", f"/api/v1/actions?programme={dakar.pk}&status=done")
    assert body["count"] == 0
    client = api(ministry, "hom.dakar")
    status, body = _json(client, "post", "/api/v1/programmes",
                         {"mission": "DAKAR", "year": YEAR + 1, "carry_over_from": dakar.pk})
    assert status == 201 and body["carried_over_from"] == dakar.pk and body["status"] == "draft"
    status, body = _json(client, "post", "/api/v1/programmes", {"mission": "LIMA", "year": YEAR + 1})
    assert status == 403
    status, body = _json(client, "post", "/api/v1/programmes", {"mission": "DAKAR", "year": YEAR + 1})
    assert status == 422


def test_achievements_api(ministry: Any, dakar: Programme) -> None:
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    client = api(ministry, "counsellor.dakar")
    status, body = _json(client, "post", "/api/v1/achievements", {
        "programme": dakar.pk, "kind": "press_interview", "date": str(date(YEAR, 3, 2)), "title": "Interview",
        "outlet": "National radio", "link": "https://example.org/a", "actions": [action.pk],
    })
    assert status == 201 and body["actions"] == [action.pk] and body["outlet"] == "National radio"
    status, body = _json(client, "post", "/api/v1/achievements", {
        "programme": dakar.pk, "kind": "nonsense", "date": str(date(YEAR, 3, 2)), "title": "x"})
    assert status == 422
    status, body = _json(client, "get", "/api/v1/achievements?kind=press_interview")
    assert body["count"] == 1


def test_openapi_lists_planning_paths(ministry: Any) -> None:
    response = Client().get("/api/v1/openapi.json")
    paths = response.json()["paths"]
    for path in ("/api/v1/programmes", "/api/v1/axes", "/api/v1/actions/{id}", "/api/v1/indicators/{id}/measurements",
                 "/api/v1/achievements"):
        assert path in paths
