"""Pages, exports, the API, the command line and background jobs of reporting."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone

from chancery.accounts.services import issue_api_token
from chancery.audit.models import AuditEvent
from chancery.notifications.models import Notification
from chancery.reporting.models import JobStatus, ReportJob
from chancery.reporting.tests.scenario import EXPECTED, build

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(ministry: Any) -> Any:
    return build(ministry)


def _api(ministry: Any, username: str) -> Client:
    token = issue_api_token(user=ministry.users[username], name="test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def test_ministry_page_shows_the_figures_and_links_to_the_records(
    client_for: Callable[[str], Client], scenario: Any
) -> None:
    page = client_for("plan.sg4").get(f"/reporting/?year={scenario.year}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-figure="actions-late"' in html
    assert f"records/actions/?year={scenario.year}&amp;bucket=late" in html
    assert "ACCRA" not in html  # the secret programme leaves no trace
    late = client_for("plan.sg4").get(f"/reporting/records/actions/?year={scenario.year}&bucket=late")
    assert late.status_code == 200
    assert "Action A2" in late.content.decode() and "Action C1" in late.content.decode()
    assert "Action A1" not in late.content.decode()


def test_unknown_filter_values_are_ignored_with_a_message(client_for: Callable[[str], Client], scenario: Any) -> None:
    page = client_for("plan.sg4").get("/reporting/?region=NOWHERE&year=abc", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "NOWHERE" in page.content.decode()


def test_exports_are_gated_and_audited(client_for: Callable[[str], Client], scenario: Any) -> None:
    before = AuditEvent.objects.unrestricted("test").filter(action="reporting.exported").count()
    response = client_for("plan.sg4").get(f"/reporting/?year={scenario.year}&export=csv&table=missions")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {r[0] for r in rows[1:]} == {"DAKAR", "ABIDJAN", "LIMA", "PARIS"}
    dakar = next(r for r in rows if r[0] == "DAKAR")
    assert dakar[3:8] == [str(EXPECTED["dakar"]["total"]), "1", "1", "1", "1"]
    regions = client_for("plan.sg4").get(f"/reporting/?year={scenario.year}&export=csv&table=regions")
    region_rows = {r[0]: r for r in csv.reader(io.StringIO(regions.content.decode("utf-8-sig")))}
    assert region_rows["RAFR"][1:4] == ["2", "5", "2"]  # programmes, actions, done (ACCRA left out)
    xlsx = client_for("plan.sg4").get(f"/reporting/records/indicators/?year={scenario.year}&export=xlsx")
    assert xlsx.status_code == 200
    from openpyxl import load_workbook

    values = [r for r in load_workbook(io.BytesIO(xlsx.content)).worksheets[0].iter_rows(min_row=2, values_only=True)]
    assert len(values) == 5 and not any(r[0] == "ACCRA" for r in values)
    assert AuditEvent.objects.unrestricted("test").filter(action="reporting.exported").count() == before + 3


def test_exported_text_never_runs_as_a_formula(client_for: Callable[[str], Client], scenario: Any) -> None:
    from chancery.planning.models import Achievement

    Achievement.objects.filter(pk=scenario.achievements["visit"].pk).update(title='=HYPERLINK("http://x","y")')
    response = client_for("plan.sg4").get(f"/reporting/records/achievements/?year={scenario.year}&export=xlsx")
    from openpyxl import load_workbook

    titles = [
        r[3] for r in load_workbook(io.BytesIO(response.content)).worksheets[0].iter_rows(min_row=2, values_only=True)
    ]
    assert '\'=HYPERLINK("http://x","y")' in titles


def test_mission_dashboard_and_synthesis_pages(client_for: Callable[[str], Client], scenario: Any) -> None:
    dakar = scenario.programmes["DAKAR"]
    client = client_for("hom.dakar")
    assert client.get(f"/reporting/programmes/{dakar.pk}/").status_code == 200
    page = client.get(f"/reporting/programmes/{dakar.pk}/synthesis/")
    assert page.status_code == 200 and "Indicator I2" in page.content.decode()
    axis = dakar.axes.order_by("position").first()
    saved = client.post(f"/reporting/programmes/{dakar.pk}/synthesis/", {f"narrative_{axis.pk}": "Good year."})
    assert saved.status_code == 302
    assert "Good year." in client.get(f"/reporting/programmes/{dakar.pk}/synthesis/").content.decode()
    assert client.post(f"/reporting/programmes/{dakar.pk}/synthesis/freeze/").status_code == 302
    pdf = client.get(f"/reporting/programmes/{dakar.pk}/synthesis.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    # A draft programme: refused with the reason, not an error.
    paris = client_for("hom.paris").get(f"/reporting/programmes/{scenario.programmes['PARIS'].pk}/synthesis/")
    assert paris.status_code == 409


def test_out_of_scope_programmes_answer_404(client_for: Callable[[str], Client], scenario: Any) -> None:
    accra = scenario.programmes["ACCRA"]  # SECRET
    client = client_for("plan.sg4")
    for url in (
        f"/reporting/programmes/{accra.pk}/",
        f"/reporting/programmes/{accra.pk}/synthesis/",
        f"/reporting/programmes/{accra.pk}/synthesis.pdf",
    ):
        assert client.get(url).status_code == 404
    lima = scenario.programmes["LIMA"]
    assert client_for("hom.dakar").get(f"/reporting/programmes/{lima.pk}/synthesis/").status_code == 404


def test_api_dashboard_and_synthesis(ministry: Any, scenario: Any) -> None:
    api = _api(ministry, "plan.sg4")
    data = api.get(f"/api/v1/reporting/dashboard?year={scenario.year}").json()
    assert data["totals"]["actions"]["late"] == EXPECTED["actions"]["late"]
    bad = api.get("/api/v1/reporting/dashboard?volet=astrology")
    assert bad.status_code == 400 and bad.json()["code"] == "bad_request" and "astrology" in bad.json()["message"]
    synthesis = api.get(f"/api/v1/reporting/programmes/{scenario.programmes['DAKAR'].pk}/synthesis").json()
    assert {i["label"]: i["status"] for i in synthesis["indicators"]}["Indicator I3"] == "off_track"
    draft = api.get(f"/api/v1/reporting/programmes/{scenario.programmes['PARIS'].pk}/synthesis")
    assert draft.status_code == 409
    hidden = api.get(f"/api/v1/reporting/programmes/{scenario.programmes['ACCRA'].pk}/synthesis")
    assert hidden.status_code == 404
    xlsx = api.get(f"/api/v1/reporting/programmes/{scenario.programmes['DAKAR'].pk}/synthesis?format=xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_command_line_synthesis(ministry: Any, scenario: Any, tmp_path: Path) -> None:
    out = tmp_path / "dakar.docx"
    call_command("synthesis", "DAKAR", str(scenario.year), "--format", "docx", "--as", "plan.sg4", "--out", str(out))
    assert out.read_bytes()[:2] == b"PK"
    with pytest.raises(CommandError, match="may read"):
        call_command("synthesis", "ACCRA", str(scenario.year), "--as", "plan.sg4", "--out", str(tmp_path / "x.pdf"))
    with pytest.raises(CommandError, match="draft"):
        call_command(
            "synthesis",
            "PARIS",
            str(scenario.year),
            "--as",
            "hom.paris",
            "--out",
            str(tmp_path / "y.pdf"),
            "--language",
            "en",
        )
    assert not (tmp_path / "x.pdf").exists() and not (tmp_path / "y.pdf").exists()


def test_compilation_runs_in_the_background_with_progress(
    client_for: Callable[[str], Client],
    scenario: Any,
    run_tasks: Callable[[], None],
    django_capture_on_commit_callbacks: Any,
) -> None:
    client = client_for("plan.sg4")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/reporting/compile/", {"year": scenario.year, "region": "RAFR", "format": "pdf"})
    assert response.status_code == 302
    job = ReportJob.objects.unrestricted("test").get()
    poll = client.get(f"/reporting/jobs/{job.pk}/?poll=1")
    assert 'data-status="queued"' in poll.content.decode() and "hx-trigger" in poll.content.decode()
    run_tasks()
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.progress == 100
    assert job.steps_total == job.steps_done == 3  # 2 programmes + the file
    done = client.get(f"/reporting/jobs/{job.pk}/?poll=1").content.decode()
    assert 'data-status="done"' in done and "hx-trigger" not in done
    pdf = client.get(f"/reporting/jobs/{job.pk}/download/")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert (
        Notification.objects.unrestricted("test").filter(recipient=job.owner, url=f"/reporting/jobs/{job.pk}/").exists()
    )
    # Another agent cannot see the job.
    assert client_for("plan2.sg4").get(f"/reporting/jobs/{job.pk}/").status_code == 404


def test_a_job_whose_worker_died_is_marked_failed_and_can_be_retried(
    client_for: Callable[[str], Client], ministry: Any, scenario: Any
) -> None:
    job = ReportJob.objects.create(
        owner=ministry.users["plan.sg4"],
        kind="compilation",
        status=JobStatus.RUNNING,
        parameters={"year": scenario.year, "region": ""},
    )
    ReportJob.objects.unrestricted("test").filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    client = client_for("plan.sg4")
    page = client.get(f"/reporting/jobs/{job.pk}/").content.decode()
    assert 'data-status="failed"' in page and "/retry/" in page
    retried = client.post(f"/reporting/jobs/{job.pk}/retry/")
    assert retried.status_code == 302
    assert ReportJob.objects.unrestricted("test").filter(owner=ministry.users["plan.sg4"]).count() == 2


def test_api_freeze_send_and_compilation(ministry: Any, scenario: Any) -> None:
    dakar = scenario.programmes["DAKAR"].pk
    assert _api(ministry, "plan.sg4").post(f"/api/v1/reporting/programmes/{dakar}/synthesis/freeze").status_code == 403
    hom = _api(ministry, "hom.dakar")
    frozen = hom.post(f"/api/v1/reporting/programmes/{dakar}/synthesis/freeze")
    assert frozen.status_code == 200 and frozen.json()["frozen"] is True
    sent = hom.post(f"/api/v1/reporting/programmes/{dakar}/synthesis/send")
    assert sent.status_code == 200 and sent.json()["reference"].startswith("DAKAR/")
    assert hom.post(f"/api/v1/reporting/programmes/{dakar}/synthesis/send").status_code == 409
    planner = _api(ministry, "plan.sg4")
    bad = planner.post(
        "/api/v1/reporting/compilations", {"year": scenario.year, "region": "NOWHERE"}, content_type="application/json"
    )
    assert bad.status_code == 400
    queued = planner.post(
        "/api/v1/reporting/compilations", {"year": scenario.year, "format": "xlsx"}, content_type="application/json"
    )
    assert queued.status_code == 202
    job_id = queued.json()["id"]
    assert planner.get(f"/api/v1/reporting/jobs/{job_id}/file").status_code == 409
    assert _api(ministry, "plan2.sg4").get(f"/api/v1/reporting/jobs/{job_id}").status_code == 404


def test_a_job_file_follows_its_owners_clearance(client_for: Callable[[str], Client], ministry: Any) -> None:
    from chancery.accounts.models import User

    owner = ministry.users["plan.sg4"]  # cleared CONFIDENTIAL
    job = ReportJob.objects.create(owner=owner, kind="compilation", status=JobStatus.DONE, classification=2)
    assert client_for("plan.sg4").get(f"/reporting/jobs/{job.pk}/").status_code == 200
    User.objects.unrestricted("test").filter(pk=owner.pk).update(clearance_level=1)
    assert client_for("plan.sg4").get(f"/reporting/jobs/{job.pk}/").status_code == 404
    assert client_for("plan.sg4").get(f"/reporting/jobs/{job.pk}/download/").status_code == 404
