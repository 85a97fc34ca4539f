"""Planning forms through the views: create, edit, conflicts, uploads, comments, workflow,
progress updates, versions and spreadsheets."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import load_workbook

from chancery.planning import services, spreadsheets
from chancery.planning.demo import sample_programme
from chancery.planning.models import (
    Achievement,
    Action,
    ActionStatus,
    Axis,
    Indicator,
    Measurement,
    Programme,
    ProgrammeComment,
    ProgrammeStatus,
    ProgrammeVersion,
    ProgressUpdate,
    ReportingPeriod,
)

YEAR = 2026


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    """Assertions read the English source strings (French is the default language)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


@pytest.fixture
def approved(ministry: Any, dakar: Programme) -> Programme:
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    services.approve_programme(user=ministry.users["plan.sg4"], programme=dakar)
    dakar.refresh_from_db()
    return dakar


def _actions(programme: Programme) -> list[Action]:
    return list(Action.objects.unrestricted("test").filter(programme=programme).order_by("pk"))


def _axis(programme: Programme, key: str = "political") -> Axis:
    return Axis.objects.unrestricted("test").get(programme=programme, axis_type__key=key)


def _action_data(programme: Programme, **overrides: Any) -> dict[str, Any]:
    data = {
        "axis": _axis(programme).pk,
        "objective": "",
        "title": "Seminar on trade",
        "description": "",
        "lead": "",
        "start_date": f"{YEAR}-05-01",
        "end_date": f"{YEAR}-05-31",
        "target_date": "",
        "priority": "medium",
        "budget_requested": "1500",
        "budget_approved": "0",
        "budget_spent": "0",
        "currency": "eur",
        "status": "proposed",
        "progress": "0",
        "risk_note": "",
        "dispatch_references": "",
    }
    data.update(overrides)
    return data


# --------------------------------------------------------------------------- programmes


def test_create_programme_and_carry_over(client_for: Any, ministry: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")
    mission = ministry.units["DAKAR"]
    page = client.get("/planning/new/").content.decode()
    assert "DAKAR" in page and "carry_over" in page
    response = client.post(
        "/planning/new/",
        {"mission": mission.pk, "year": YEAR + 1, "title": "", "classification": 0, "carry_over": "on"},
    )
    assert response.status_code == 302
    created = Programme.objects.unrestricted("t").get(mission=mission, year=YEAR + 1)
    assert response["Location"] == f"/planning/{created.pk}/"
    assert created.carried_over_from_id == dakar.pk
    assert Action.objects.unrestricted("t").filter(programme=created).count() == len(_actions(dakar))
    # The same year again: a clear error on the form, nothing created.
    again = client.post("/planning/new/", {"mission": mission.pk, "year": YEAR + 1, "classification": 0})
    assert again.status_code == 200 and "already has a programme" in again.content.decode()


def test_carry_over_without_an_earlier_programme(client_for: Any, ministry: Any) -> None:
    client = client_for("counsellor.dakar")
    response = client.post(
        "/planning/new/", {"mission": ministry.units["DAKAR"].pk, "year": 2031, "classification": 0, "carry_over": "on"}
    )
    assert response.status_code == 200 and "no earlier programme" in response.content.decode()
    assert not Programme.objects.unrestricted("t").filter(year=2031).exists()


def test_create_refuses_other_missions_and_high_classification(client_for: Any, ministry: Any) -> None:
    client = client_for("counsellor.dakar")
    lima = ministry.units["LIMA"]
    response = client.post("/planning/new/", {"mission": lima.pk, "year": YEAR, "classification": 0})
    assert response.status_code == 200 and not Programme.objects.unrestricted("t").filter(mission=lima).exists()
    secret = client.post("/planning/new/", {"mission": ministry.units["DAKAR"].pk, "year": 2030, "classification": 3})
    assert secret.status_code == 200 and not Programme.objects.unrestricted("t").filter(year=2030).exists()


# --------------------------------------------------------------------------- actions


def test_add_action_with_warning_for_dates_outside_the_year(client_for: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")
    response = client.post(
        f"/planning/{dakar.pk}/actions/new/",
        _action_data(dakar, title="Joint commission", end_date=f"{YEAR + 1}-02-01"),
        follow=True,
    )
    assert response.status_code == 200
    action = Action.objects.unrestricted("t").get(programme=dakar, title="Joint commission")
    assert action.currency == "EUR" and action.budget_requested == Decimal("1500")
    html = response.content.decode()
    assert "outside the programme period" in html  # shown, but the action is saved


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"end_date": f"{YEAR}-04-01"}, "end_date", "The end comes before the start."),
        ({"budget_requested": "-5"}, "budget_requested", "A budget cannot be negative."),
        ({"progress": "120"}, "progress", "Progress is between 0 and 100"),
        ({"progress": "-1"}, "progress", "Progress is between 0 and 100"),
        ({"currency": "e1"}, "currency", "ISO 4217"),
        ({"dispatch_references": "NOWHERE/2026/0001"}, "dispatch_references", "Unknown dispatch"),
    ],
)
def test_action_form_errors(
    client_for: Any, dakar: Programme, overrides: dict[str, str], field: str, message: str
) -> None:
    count = len(_actions(dakar))
    response = client_for("counsellor.dakar").post(
        f"/planning/{dakar.pk}/actions/new/", _action_data(dakar, **overrides)
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert f'id="id_{field}_error"' in html and 'aria-invalid="true"' in html
    assert len(_actions(dakar)) == count


def test_edit_conflict_keeps_the_users_input(client_for: Any, ministry: Any, dakar: Programme) -> None:
    action = _actions(dakar)[0]
    client = client_for("counsellor.dakar")
    form = client.get(f"/planning/{dakar.pk}/actions/{action.pk}/edit/").content.decode()
    assert f'name="lock_version" value="{action.lock_version}"' in form
    # Someone else saves first.
    services.update_action(
        user=ministry.users["hom.dakar"],
        action=action,
        lock_version=action.lock_version,
        title="Changed by the head of mission",
    )
    stale = _action_data(dakar, title="My careful rewording", lock_version=action.lock_version - 1 + 1 - 0)
    stale["lock_version"] = str(action.lock_version - 1)
    response = client.post(f"/planning/{dakar.pk}/actions/{action.pk}/edit/", stale)
    assert response.status_code == 200
    html = response.content.decode()
    assert "changed by someone else" in html
    assert 'value="My careful rewording"' in html  # the user's input is kept
    assert "Changed by the head of mission" in html  # and the other version is shown
    action.refresh_from_db()
    assert action.title == "Changed by the head of mission"
    # Saving again is a deliberate overwrite.
    fresh = _action_data(dakar, title="My careful rewording", lock_version=str(action.lock_version))
    assert client.post(f"/planning/{dakar.pk}/actions/{action.pk}/edit/", fresh).status_code == 302
    action.refresh_from_db()
    assert action.title == "My careful rewording"


def test_action_of_another_programme_is_404(client_for: Any, ministry: Any, dakar: Programme) -> None:
    other = sample_programme(mission=ministry.units["DAKAR"], year=YEAR + 1, user=ministry.users["counsellor.dakar"])
    foreign = _actions(other)[0]
    assert client_for("counsellor.dakar").get(f"/planning/{dakar.pk}/actions/{foreign.pk}/edit/").status_code == 404


# --------------------------------------------------------------------------- indicators, measurements, achievements


def test_indicator_form_and_revised_target(client_for: Any, dakar: Programme, ministry: Any) -> None:
    client = client_for("counsellor.dakar")
    response = client.post(
        f"/planning/{dakar.pk}/indicators/new/",
        {
            "label": "Bilateral trade volume",
            "axis": _axis(dakar, "economic").pk,
            "unit": "million USD",
            "direction": "increase",
            "baseline_value": "60",
            "baseline_year": "2013",
            "approved_target": "80",
            "target_year": str(YEAR),
        },
    )
    assert response.status_code == 302
    indicator = Indicator.objects.unrestricted("t").get(programme=dakar, label="Bilateral trade volume")
    assert indicator.baseline_value == 60 and indicator.approved_target == 80
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    services.approve_programme(user=ministry.users["plan.sg4"], programme=dakar)
    # After approval the approved target stays; the revised target goes beside it.
    edit = client.get(f"/planning/{dakar.pk}/indicators/{indicator.pk}/edit/").content.decode()
    assert 'name="approved_target"' in edit and "disabled" in edit
    client.post(
        f"/planning/{dakar.pk}/indicators/{indicator.pk}/edit/",
        {
            "label": "Bilateral trade volume",
            "axis": _axis(dakar, "economic").pk,
            "unit": "million USD",
            "direction": "increase",
            "baseline_value": "60",
            "baseline_year": "2013",
            "approved_target": "999",
            "revised_target": "70",
            "target_year": str(YEAR),
        },
    )
    indicator.refresh_from_db()
    assert indicator.approved_target == 80 and indicator.revised_target == 70
    document = client.get(f"/planning/{dakar.pk}/").content.decode()
    assert "Bilateral trade volume" in document and "<strong>70</strong>" in document


def test_measurement_with_evidence_file(client_for: Any, dakar: Programme) -> None:
    indicator = Indicator.objects.unrestricted("t").filter(programme=dakar).earliest("pk")
    client = client_for("counsellor.dakar")
    url = f"/planning/{dakar.pk}/indicators/{indicator.pk}/measurements/"
    response = client.post(
        url,
        {
            "period_type": "quarter",
            "period_start": f"{YEAR}-02-10",
            "value": "63.5",
            "evidence": "Customs figures",
            "evidence_file": SimpleUploadedFile("customs.csv", b"month,value\n1,63.5\n", content_type="text/csv"),
        },
    )
    assert response.status_code == 302
    measurement = Measurement.objects.unrestricted("t").get(indicator=indicator)
    assert measurement.period_start == date(YEAR, 1, 1) and measurement.period_end == date(YEAR, 3, 31)
    assert measurement.evidence_file.filename == "customs.csv"
    assert "63.5" in client.get(url).content.decode()
    bad = client.post(url, {"period_type": "quarter", "period_start": f"{YEAR}-02-10", "value": "lots"})
    assert bad.status_code == 200 and "Enter a number" in bad.content.decode()


def test_measurement_refused_in_a_closed_period(client_for: Any, approved: Programme, ministry: Any) -> None:
    periods = services.create_reporting_periods(user=ministry.users["hom.dakar"], programme=approved)
    services.close_reporting_period(user=ministry.users["hom.dakar"], period=periods[0])
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).earliest("pk")
    response = client_for("counsellor.dakar").post(
        f"/planning/{approved.pk}/indicators/{indicator.pk}/measurements/",
        {"period_type": "quarter", "period_start": f"{YEAR}-01-05", "value": "1"},
    )
    assert response.status_code == 200 and "closed" in response.content.decode()
    assert not Measurement.objects.unrestricted("t").filter(indicator=indicator).exists()


def test_headquarters_grants_budgets_and_approves_actions_the_mission_cannot(
    client_for: Any, dakar: Programme, ministry: Any
) -> None:
    """Issue 8: budget granted stayed 0 (nobody could grant it) and an embassy could mark its own
    draft action "Approved"."""
    action = _actions(dakar)[0]
    counsellor = client_for("counsellor.dakar")
    form = counsellor.get(f"/planning/{dakar.pk}/actions/{action.pk}/edit/").content.decode()
    assert 'value="approved"' not in form and 'name="budget_approved"' in form and "disabled" in form
    with pytest.raises(ValidationError):
        services.create_action(user=ministry.users["counsellor.dakar"], programme=dakar, axis=action.axis,
                               title="Self-approved", status=ActionStatus.APPROVED)
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    page = client_for("plan.sg4").get(f"/planning/{dakar.pk}/").content.decode()
    assert f'name="budget-{action.pk}"' in page
    client_for("plan.sg4").post(f"/planning/{dakar.pk}/approve/", {f"budget-{action.pk}": "750.50"})
    action.refresh_from_db()
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.APPROVED and action.budget_approved == Decimal("750.50")
    assert action.status == ActionStatus.APPROVED


def test_measurements_are_corrected_and_deleted_from_their_page(client_for: Any, dakar: Programme) -> None:
    indicator = Indicator.objects.unrestricted("t").filter(programme=dakar).earliest("pk")
    client = client_for("counsellor.dakar")
    url = f"/planning/{dakar.pk}/indicators/{indicator.pk}/measurements/"
    wrong_year = client.post(url, {"period_type": "quarter", "period_start": f"{YEAR - 1}-11-02", "value": "4"})
    assert wrong_year.status_code == 200 and "outside the programme" in wrong_year.content.decode()
    recorded = client.post(url, {"period_type": "quarter", "period_start": f"{YEAR}-02-10", "value": "40"})
    assert recorded.status_code == 302
    measurement = Measurement.objects.unrestricted("t").get(indicator=indicator)
    page = client.get(url).content.decode()
    assert f"{url}{measurement.pk}/" in page and f"{url}{measurement.pk}/delete/" in page
    assert client.post(f"{url}{measurement.pk}/", {"value": "lots"}).status_code == 200
    corrected = client.post(f"{url}{measurement.pk}/", {"value": "42", "evidence": "Revised customs data"})
    assert corrected.status_code == 302
    measurement.refresh_from_db()
    assert measurement.value == 42 and measurement.evidence == "Revised customs data"
    # Out of scope or read-only: 404, and nothing changes.
    assert client_for("counsellor.lima").post(f"{url}{measurement.pk}/delete/").status_code == 404
    assert client_for("desk.dab1").post(f"{url}{measurement.pk}/delete/").status_code == 404
    assert client.post(f"{url}{measurement.pk}/delete/").status_code == 302
    assert not Measurement.objects.unrestricted("t").filter(pk=measurement.pk).exists()


def test_achievement_with_files_actions_and_dispatch_check(client_for: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")
    action = _actions(dakar)[0]
    url = f"/planning/{dakar.pk}/achievements/new/"
    assert f'value="{action.pk}"' in client.get(url, {"action": action.pk}).content.decode()
    data = {
        "kind": "press_article",
        "date": f"{YEAR}-03-02",
        "title": "Interview in the daily paper",
        "outlet": "Le Quotidien",
        "link": "https://example.org/article",
        "actions": [action.pk],
        "dispatch_references": "",
    }
    files = [SimpleUploadedFile("scan.pdf", b"%PDF-1.4 scan"), SimpleUploadedFile("photo.jpg", b"\xff\xd8 photo")]
    response = client.post(url, {**data, "evidence_files": files})
    assert response.status_code == 302
    achievement = Achievement.objects.unrestricted("t").get(programme=dakar)
    assert [a.pk for a in achievement.actions.all()] == [action.pk]
    assert sorted(e.filename for e in achievement.evidence.all()) == ["photo.jpg", "scan.pdf"]
    # A dispatch reference nobody can read: refused, nothing recorded.
    refused = client.post(url, {**data, "title": "Second", "dispatch_references": "DAKAR/2026/9999"})
    assert refused.status_code == 200 and "Unknown dispatch" in refused.content.decode()
    assert Achievement.objects.unrestricted("t").filter(programme=dakar).count() == 1
    document = client.get(f"/planning/{dakar.pk}/").content.decode()
    assert "Interview in the daily paper" in document and "scan.pdf" in document


# --------------------------------------------------------------------------- comments and workflow


def test_htmx_comment_and_reply(client_for: Any, dakar: Programme, ministry: Any) -> None:
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    action = _actions(dakar)[0]
    desk = client_for("desk.dab1")
    response = desk.post(
        f"/planning/{dakar.pk}/comments/",
        {"body": "Please specify the budget.", "target_type": "action", "target_id": action.pk},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and html.startswith(f'<div class="comments" id="comments-action-{action.pk}"')
    assert "Please specify the budget." in html
    root = ProgrammeComment.objects.unrestricted("t").get(programme=dakar)
    reply = (
        client_for("counsellor.dakar")
        .post(f"/planning/{dakar.pk}/comments/", {"body": "Done: 1500 EUR.", "parent": root.pk}, HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "Done: 1500 EUR." in reply and reply.index("Please specify") < reply.index("Done: 1500")
    stored = ProgrammeComment.objects.unrestricted("t").get(parent=root)
    assert stored.target_type == "action" and stored.target_id == action.pk
    # Without HTMX: a redirect to the thread's anchor.
    plain = desk.post(f"/planning/{dakar.pk}/comments/", {"body": "On the whole plan", "target_type": "programme"})
    assert plain.status_code == 302 and plain["Location"].endswith("#comments-programme")
    # An empty comment: an error in the fragment, nothing stored.
    empty = desk.post(
        f"/planning/{dakar.pk}/comments/", {"body": "", "target_type": "programme"}, HTTP_HX_REQUEST="true"
    )
    assert "empty" in empty.content.decode()
    assert ProgrammeComment.objects.unrestricted("t").filter(programme=dakar).count() == 3
    # Inspection reads but may not comment.
    inspect = client_for("inspect.sg5").post(
        f"/planning/{dakar.pk}/comments/", {"body": "x", "target_type": "programme"}, HTTP_HX_REQUEST="true"
    )
    assert "may not" in inspect.content.decode()


def test_workflow_buttons(client_for: Any, dakar: Programme, ministry: Any) -> None:
    base = f"/planning/{dakar.pk}"
    # The counsellor may not submit: a message, nothing changes.
    response = client_for("counsellor.dakar").post(f"{base}/submit/", follow=True)
    assert "head of mission" in response.content.decode()
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.DRAFT
    assert client_for("hom.dakar").post(f"{base}/submit/").status_code == 302
    assert client_for("desk.dab1").post(f"{base}/approve/").status_code == 302
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.SUBMITTED
    client_for("plan.sg4").post(f"{base}/approve/")
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.APPROVED and dakar.baseline_version_id
    counsellor = client_for("counsellor.dakar")
    hom = client_for("hom.dakar")
    # A revision needs a reason; the counsellor may not propose it, the head of mission does.
    hom.post(f"{base}/revise/", {"revise-reason": ""})
    counsellor.post(f"{base}/revise/", {"revise-reason": "Visit moved"})
    dakar.refresh_from_db()
    assert not dakar.revision_pending
    hom.post(f"{base}/revise/", {"revise-reason": "Visit moved to the autumn"})
    dakar.refresh_from_db()
    assert dakar.revision_pending and ProgrammeVersion.objects.unrestricted("t").filter(programme=dakar).count() == 2
    # Headquarters approves it: a numbered version with the mission's reason.
    assert client_for("desk.dab1").post(f"{base}/revision/approve/").status_code == 302
    assert not ProgrammeVersion.objects.unrestricted("t").filter(programme=dakar, number=3).exists()
    client_for("plan.sg4").post(f"{base}/revision/approve/")
    version = ProgrammeVersion.objects.unrestricted("t").get(programme=dakar, number=3)
    assert version.reason == "Visit moved to the autumn"
    counsellor.post(f"{base}/start/")
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.IN_EXECUTION
    client_for("hom.dakar").post(f"{base}/close/")
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.CLOSED
    assert counsellor.post(f"{base}/nonsense/").status_code == 404
    assert counsellor.get(f"{base}/close/").status_code == 405


def test_return_for_changes(client_for: Any, dakar: Programme, ministry: Any) -> None:
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    client_for("desk.dab1").post(f"/planning/{dakar.pk}/return/", {"return-reason": "Add a cultural action"})
    dakar.refresh_from_db()
    assert dakar.status == ProgrammeStatus.DRAFT
    assert "Add a cultural action" in client_for("hom.dakar").get(f"/planning/{dakar.pk}/").content.decode()


# --------------------------------------------------------------------------- periodic progress


def test_progress_update_all_or_nothing(client_for: Any, approved: Programme, ministry: Any) -> None:
    # The counsellor may not set the periods; the head of mission does.
    assert (
        client_for("counsellor.dakar").post(f"/planning/{approved.pk}/updates/", {"period_type": "month"}).status_code
        == 404
    )
    created = client_for("hom.dakar").post(
        f"/planning/{approved.pk}/updates/", {"period_type": "quarter", "deadline_days": "10"}
    )
    assert created.status_code == 302
    client = client_for("counsellor.dakar")
    period = ReportingPeriod.objects.unrestricted("t").filter(programme=approved).earliest("start")
    url = f"/planning/{approved.pk}/updates/{period.pk}/"
    page = client.get(url).content.decode()
    actions = _actions(approved)
    indicator = Indicator.objects.unrestricted("t").filter(programme=approved).earliest("pk")
    assert all(a.title in page for a in actions)
    data: dict[str, Any] = {}
    for a in actions:
        data.update(
            {
                f"a{a.pk}-progress": "40",
                f"a{a.pk}-status": "in_progress",
                f"a{a.pk}-note": "On track",
                f"a{a.pk}-lock": str(a.lock_version),
            }
        )
    data[f"i{indicator.pk}-value"] = "62"
    # One bad row: nothing is saved.
    bad = dict(data, **{f"a{actions[1].pk}-progress": "140"})
    response = client.post(url, bad)
    assert response.status_code == 200
    assert "Nothing was saved" in response.content.decode() and "row-error" in response.content.decode()
    assert not ProgressUpdate.objects.unrestricted("t").filter(period=period).exists()
    assert not Measurement.objects.unrestricted("t").filter(indicator=indicator).exists()
    # A valid sheet: everything at once.
    assert client.post(url, data).status_code == 302
    assert ProgressUpdate.objects.unrestricted("t").filter(period=period).count() == len(actions)
    assert Measurement.objects.unrestricted("t").get(indicator=indicator).value == 62
    assert {a.status for a in _actions(approved)} == {ActionStatus.IN_PROGRESS}
    approved.refresh_from_db()
    assert approved.status == ProgrammeStatus.IN_EXECUTION


def test_missing_updates_after_the_deadline_stand_out(client_for: Any, approved: Programme, ministry: Any) -> None:
    period = services.create_reporting_period(
        user=ministry.users["hom.dakar"],
        programme=approved,
        period_type="month",
        start=date(2020, 1, 1),
        end=date(2020, 1, 31),
        deadline=date(2020, 2, 10),
    )
    Action.objects.unrestricted("t").filter(programme=approved).update(start_date=date(2020, 1, 5))
    client = client_for("desk.dab1")
    listing = client.get(f"/planning/{approved.pk}/updates/").content.decode()
    assert "update-missing" in listing and "Overdue: updates missing" in listing
    page = client.get(f"/planning/{approved.pk}/updates/{period.pk}/").content.decode()
    assert "Missing — deadline passed" in page and 'class="update-missing"' in page
    assert "disabled" in page  # the desk reads but does not fill in
    assert client.post(f"/planning/{approved.pk}/updates/{period.pk}/", {}).status_code == 404


def test_progress_conflict_saves_nothing(client_for: Any, approved: Programme, ministry: Any) -> None:
    period = services.create_reporting_periods(user=ministry.users["hom.dakar"], programme=approved)[0]
    actions = _actions(approved)
    data = {}
    for a in actions:
        data.update({f"a{a.pk}-progress": "10", f"a{a.pk}-status": "in_progress", f"a{a.pk}-lock": str(a.lock_version)})
    services.update_action(user=ministry.users["hom.dakar"], action=actions[0], lock_version=None, progress=5)
    response = client_for("counsellor.dakar").post(f"/planning/{approved.pk}/updates/{period.pk}/", data)
    assert response.status_code == 200 and "changed by someone else" in response.content.decode()
    assert not ProgressUpdate.objects.unrestricted("t").filter(period=period).exists()


# --------------------------------------------------------------------------- versions


def test_baseline_beside_current_shows_each_kind_of_change(client_for: Any, approved: Programme, ministry: Any) -> None:
    u = ministry.users["counsellor.dakar"]
    first, second, third = _actions(approved)[:3]
    services.update_action(user=u, action=first, lock_version=None, end_date=date(YEAR, 9, 30))
    services.update_action(user=u, action=second, lock_version=None, budget_requested=Decimal("2500"))
    services.update_action(user=u, action=third, lock_version=None, status=ActionStatus.POSTPONED)
    services.create_action(user=u, programme=approved, axis=_axis(approved), title="Brand new action")
    services.delete_action(user=u, action=_actions(approved)[-2])
    html = client_for("plan.sg4").get(f"/planning/{approved.pk}/baseline/").content.decode()
    for label in ("+ Added", "− Removed", "✎ Changed", "diff-kind-redated", "diff-kind-rebudgeted", "diff-kind-status"):
        assert label in html, label
    assert "Brand new action" in html and "<del" in html and "<ins" in html
    assert "Approved baseline (v2)" in html


def test_compare_any_two_versions(client_for: Any, approved: Programme, ministry: Any) -> None:
    u = ministry.users["counsellor.dakar"]
    services.update_action(user=u, action=_actions(approved)[0], lock_version=None, title="Renamed action")
    services.propose_revision(user=ministry.users["hom.dakar"], programme=approved, reason="Renaming")
    services.approve_revision(user=ministry.users["plan.sg4"], programme=approved)
    client = client_for("desk.dab1")
    html = client.get(f"/planning/{approved.pk}/versions/", {"old": 1, "new": 3}).content.decode()
    assert "From v1" in html and "Renamed action" in html and "diff-kind-edited" in html
    same = client.get(f"/planning/{approved.pk}/versions/", {"old": 2, "new": 2}).content.decode()
    assert "✎ Changed</span>: 0" in same
    current = client.get(f"/planning/{approved.pk}/versions/", {"old": 3}).content.decode()
    assert "As it stands" in current
    assert (
        client.get(f"/planning/{approved.pk}/versions/", {"old": 99}).status_code == 200
    )  # invalid choice: form error


# --------------------------------------------------------------------------- spreadsheets


def _workbook_with(programme: Programme, edit: Any) -> bytes:
    wb = load_workbook(io.BytesIO(spreadsheets.export_programme(programme)))
    edit(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _axis_sheet(wb: Any, key: str = "political") -> Any:
    for ws in wb.worksheets:
        if ws["A1"].value == "Axis" and ws["B1"].value == key:
            return ws
    raise AssertionError("no sheet for " + key)


def test_import_preview_then_confirm(client_for: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")
    export = client.get(f"/planning/{dakar.pk}/export.xlsx")
    assert export.status_code == 200 and export["Content-Type"].startswith("application/vnd.openxmlformats")

    def rename(wb: Any) -> None:
        _axis_sheet(wb)["C5"] = "Renamed in Excel"

    data = _workbook_with(dakar, rename)
    response = client.post(f"/planning/{dakar.pk}/import/", {"workbook": SimpleUploadedFile("plan.xlsx", data)})
    assert response.status_code == 302
    preview_url = response["Location"]
    preview = client.get(preview_url).content.decode()
    assert "No error" in preview and "Renamed in Excel" in preview and "updates" in preview
    assert not Action.objects.unrestricted("t").filter(title="Renamed in Excel").exists()  # nothing saved yet
    # Someone else cannot use the token.
    assert client_for("hom.dakar").get(preview_url).status_code == 404
    assert client.post(preview_url, {"decision": "confirm"}).status_code == 302
    assert Action.objects.unrestricted("t").filter(programme=dakar, title="Renamed in Excel").exists()
    assert client.get(preview_url).status_code == 404  # used up


def test_import_preview_lists_row_errors_and_cancel_saves_nothing(client_for: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")

    def break_rows(wb: Any) -> None:
        ws = _axis_sheet(wb)
        ws["C5"] = "Should not be saved"
        ws["H6"] = "2020-01-01"  # end before start
        ws["P6"] = 150  # progress

    data = _workbook_with(dakar, break_rows)
    response = client.post(f"/planning/{dakar.pk}/import/", {"workbook": SimpleUploadedFile("plan.xlsx", data)})
    preview_url = response["Location"]
    html = client.get(preview_url).content.decode()
    assert "row-error" in html and "End" in html and "Progress" in html
    assert 'value="confirm"' not in html  # no confirm button while errors remain
    refused = client.post(preview_url, {"decision": "confirm"})
    assert refused.status_code == 200
    assert not Action.objects.unrestricted("t").filter(title="Should not be saved").exists()
    cancel = client.post(preview_url, {"decision": "cancel"})
    assert cancel.status_code == 302 and client.get(preview_url).status_code == 404


def test_refused_file_gets_a_clear_message(client_for: Any, dakar: Programme) -> None:
    client = client_for("counsellor.dakar")
    url = f"/planning/{dakar.pk}/import/"
    not_xlsx = client.post(url, {"workbook": SimpleUploadedFile("plan.xlsx", b"this is plain text, not a workbook")})
    assert not_xlsx.status_code == 200 and "not an Excel workbook" in not_xlsx.content.decode()
    wrong_ext = client.post(url, {"workbook": SimpleUploadedFile("plan.csv", b"a,b")})
    assert "not an .xlsx workbook" in wrong_ext.content.decode()
    encrypted = spreadsheets.OLE_MAGIC + b"\x00" * 504 + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
    locked = client.post(url, {"workbook": SimpleUploadedFile("plan.xlsx", encrypted)})
    assert "password" in locked.content.decode()


def test_axis_narrative_and_objectives(client_for: Any, dakar: Programme) -> None:
    axis = _axis(dakar, "cultural")
    client = client_for("counsellor.dakar")
    url = f"/planning/{dakar.pk}/axes/{axis.pk}/"
    assert client.post(url, {"form": "axis", "narrative": "Culture as a bridge."}).status_code == 302
    assert client.post(url, {"form": "objective", "objective-title": "Francophone festival"}).status_code == 302
    empty = client.post(url, {"form": "objective", "objective-title": ""})
    assert empty.status_code == 200 and 'id="id_objective-title_error"' in empty.content.decode()
    document = client.get(f"/planning/{dakar.pk}/").content.decode()
    assert "Culture as a bridge." in document and "Francophone festival" in document
    assert client_for("desk.dab1").get(url).status_code == 404
    assert client_for("hom.lima").get(url).status_code == 404
