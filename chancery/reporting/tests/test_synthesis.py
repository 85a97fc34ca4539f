"""The synthesis: frozen snapshot, derived marking and partial view, refusals, the three
outputs opened by real tools, and sending it as a dispatch."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import translation

from chancery.core.classification import Level
from chancery.correspondence.models import Attachment, Dispatch, DispatchStatus, Routing, RoutingKind
from chancery.planning.models import Indicator, Measurement
from chancery.reporting import renderers, services
from chancery.reporting.models import Synthesis
from chancery.reporting.synthesis import report_for
from chancery.reporting.tests.scenario import build

pytestmark = pytest.mark.django_db


@pytest.fixture
def scenario(ministry: Any) -> Any:
    return build(ministry)


def _hom(ministry: Any) -> Any:
    return _cleared(ministry, "hom.dakar", Level.CONFIDENTIAL)


def test_a_draft_programme_is_refused_with_the_reason(ministry: Any, scenario: Any) -> None:
    with translation.override("en"), pytest.raises(ValidationError, match="still a draft"):
        services.freeze(user=ministry.users["hom.paris"], programme=scenario.programmes["PARIS"])
    assert not Synthesis.objects.unrestricted("test").exists()


def test_only_the_head_of_mission_freezes(ministry: Any, scenario: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.freeze(user=ministry.users["plan.sg4"], programme=scenario.programmes["DAKAR"])


def test_the_frozen_snapshot_does_not_follow_later_edits(ministry: Any, scenario: Any) -> None:
    dakar = scenario.programmes["DAKAR"]
    services.save_narratives(user=_hom(ministry), programme=dakar, narratives={dakar.axes.first().pk: "We did well."})
    synthesis = services.freeze(user=_hom(ministry), programme=dakar)
    before = report_for(_hom(ministry), dakar)
    assert before.frozen
    # Later edits of the programme: a new measurement, a relabelled indicator.
    i1 = scenario.indicators["I1"]
    Measurement.objects.create(
        indicator=i1,
        period_type="year",
        period_start=i1.programme.period_start.replace(month=12),
        period_end=i1.programme.period_end,
        value=Decimal(999),
    )
    Indicator.objects.filter(pk=i1.pk).update(label="Changed later")
    after = report_for(_hom(ministry), dakar)
    row = next(i for i in after.indicators if i["id"] == i1.pk)
    assert row["actual"] == "20" and row["label"] == "Indicator I1"
    assert after.axes[0]["narrative"] == "We did well."
    # Freezing again keeps the one snapshot; narratives can no longer change.
    again = services.freeze(user=_hom(ministry), programme=dakar)
    assert again.pk == synthesis.pk and again.frozen_at == synthesis.frozen_at
    with pytest.raises(PermissionDenied):
        services.save_narratives(user=_hom(ministry), programme=dakar, narratives={dakar.axes.first().pk: "x"})
    # The provisional (live) report of another reader would show the new value; the frozen one does not.
    assert Synthesis.objects.unrestricted("test").filter(programme=dakar).count() == 1


def test_the_snapshot_is_stored_sealed(ministry: Any, scenario: Any) -> None:
    synthesis = services.freeze(user=_hom(ministry), programme=scenario.programmes["DAKAR"])
    raw = bytes(Synthesis.objects.unrestricted("test").get(pk=synthesis.pk).content_ciphertext or b"")
    assert b"Indicator I1" not in raw and b"Visit of a delegation" not in raw


def test_marking_is_derived_from_contents_and_partial_view_is_announced(ministry: Any, scenario: Any) -> None:
    dakar = scenario.programmes["DAKAR"]
    hom = _cleared(ministry, "hom.dakar", Level.SECRET)
    # D3 (SECRET) is also copied to DAB/1, so the director overseeing DAB may read it.
    Routing.objects.create(
        dispatch=scenario.dispatches["D3"], unit=ministry.units["DAB/1"], kind=RoutingKind.INFO, status="unread"
    )
    synthesis = services.freeze(user=hom, programme=dakar)
    assert synthesis.classification == Level.SECRET  # the highest item: D3
    planner = report_for(ministry.users["plan.sg4"], dakar)  # cleared CONFIDENTIAL
    assert [d["reference"] for d in planner.dispatches] == [scenario.dispatches["D1"].reference]
    assert planner.marking.level == Level.UNCLASSIFIED
    assert planner.partial and planner.left_out == 1
    secret_achievement = next(a for a in planner.achievements if a["id"] == scenario.achievements["secret"].pk)
    assert secret_achievement["dispatches"] == []
    # The director (SECRET, oversees DAB/1) reads D3 but not D1 (routed to SG/4 only): the
    # report is SECRET and partial the other way round.
    director = report_for(ministry.users["director.dab"], dakar)
    assert [d["reference"] for d in director.dispatches] == [scenario.dispatches["D3"].reference]
    assert director.marking.level == Level.SECRET and director.left_out == 1
    # The head of mission who froze it sees everything.
    full = report_for(hom, dakar)
    assert full.marking.level == Level.SECRET and not full.partial


def _cleared(ministry: Any, username: str, level: int) -> Any:
    from chancery.accounts.models import User

    User.objects.unrestricted("test").filter(username=username).update(clearance_level=level)
    user = User.objects.unrestricted("test").get(username=username)
    user.forget_cached_rights()
    return user


def test_marking_of_a_live_report_follows_the_cited_dispatches(ministry: Any, scenario: Any) -> None:
    dakar = scenario.programmes["DAKAR"]
    Dispatch.objects.filter(pk=scenario.dispatches["D1"].pk).update(classification=Level.CONFIDENTIAL)
    planner = report_for(ministry.users["plan.sg4"], dakar)
    assert planner.marking.level == Level.CONFIDENTIAL
    assert not planner.frozen
    inspector = report_for(ministry.users["inspect.sg5"], dakar)  # reads the plan, not the dispatches
    assert inspector.dispatches == [] and inspector.marking.level == Level.UNCLASSIFIED


def test_a_mission_without_data_gives_an_honest_empty_report(ministry: Any, scenario: Any) -> None:
    lima = scenario.programmes["LIMA"]
    report = report_for(ministry.users["plan.sg4"], scenario.programmes["ABIDJAN"])
    assert not report.is_empty
    from chancery.planning.models import Action

    Action.objects.filter(programme=lima).delete()
    empty = report_for(ministry.users["plan.sg4"], lima)
    assert empty.is_empty
    pdf = renderers.render(empty, "pdf")
    assert pdf.startswith(b"%PDF")


def _pdftotext(tmp_path: Path, data: bytes, name: str = "r.pdf") -> tuple[str, str]:
    path = tmp_path / name
    path.write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return text, info


def test_pdf_has_text_marking_on_every_page_and_page_numbers(ministry: Any, scenario: Any, tmp_path: Path) -> None:
    dakar = scenario.programmes["DAKAR"]
    Dispatch.objects.filter(pk=scenario.dispatches["D1"].pk).update(classification=Level.RESTRICTED)
    report = report_for(ministry.users["plan.sg4"], dakar)
    text, info = _pdftotext(tmp_path, renderers.render(report, "pdf"))
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert pages >= 2
    page_texts = text.split("\f")[:pages]
    assert len(page_texts) == pages
    for number, page in enumerate(page_texts, start=1):
        lines = [line.strip() for line in page.splitlines() if line.strip()]
        assert lines[0] == "Diffusion restreinte", f"page {number}: no marking on top"
        assert lines[-1].startswith("Diffusion restreinte"), f"page {number}: no marking at the bottom"
        assert re.search(rf"\b{number}\s*/\s*{pages}$", lines[-1]), f"page {number}: no page number"
    assert "Indicator I2" in text and "Visit of a delegation" in text
    assert scenario.dispatches["D1"].reference in text
    assert "Contents" in text or "Sommaire" in text or "Table" in text


def test_docx_converts_with_libreoffice_and_carries_the_marking(ministry: Any, scenario: Any, tmp_path: Path) -> None:
    from docx import Document

    Dispatch.objects.filter(pk=scenario.dispatches["D1"].pk).update(classification=Level.RESTRICTED)
    report = report_for(ministry.users["plan.sg4"], scenario.programmes["DAKAR"])
    data = renderers.render(report, "docx")
    document = Document(io.BytesIO(data))
    for section in document.sections:
        assert "DIFFUSION RESTREINTE" in section.header.paragraphs[0].text
        assert "DIFFUSION RESTREINTE" in section.footer.paragraphs[0].text
    path = tmp_path / "synthesis.docx"
    path.write_bytes(data)
    profile = tmp_path / "lo-profile"
    result = subprocess.run(
        [
            shutil.which("soffice") or "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    text, info = _pdftotext(tmp_path, (tmp_path / "synthesis.pdf").read_bytes(), "converted.pdf")
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    for page in text.split("\f")[:pages]:
        assert page.count("DIFFUSION RESTREINTE") >= 2  # header and footer of every page
    flat = " ".join(text.split())
    assert "Visit of a delegation" in flat and scenario.dispatches["D1"].reference in flat


def test_xlsx_values(ministry: Any, scenario: Any) -> None:
    from openpyxl import load_workbook

    report = report_for(ministry.users["plan.sg4"], scenario.programmes["DAKAR"])
    book = load_workbook(io.BytesIO(renderers.render(report, "xlsx")))
    sheet = book.worksheets[0]
    rows = {r[0]: r for r in sheet.iter_rows(min_row=2, values_only=True)}
    assert rows["Indicator I2"][3:8] == (10, 20, 30, 26, -4)
    assert rows["Indicator I3"][6] == 28
    budget = {r[0]: r for r in book.worksheets[3].iter_rows(min_row=2, values_only=True)}
    assert budget["EUR"][1:] == (2000, 1600, 850)


def test_sending_the_synthesis_as_a_dispatch(ministry: Any, scenario: Any, tmp_path: Path) -> None:
    dakar = scenario.programmes["DAKAR"]
    hom = _hom(ministry)
    with translation.override("en"), pytest.raises(ValidationError, match="Freeze"):
        services.send(user=hom, programme=dakar)
    services.freeze(user=hom, programme=dakar)
    dispatch = services.send(user=hom, programme=dakar)
    dispatch = Dispatch.objects.unrestricted("test").get(pk=dispatch.pk)
    assert dispatch.status == DispatchStatus.SENT
    assert dispatch.reference and dispatch.reference.startswith("DAKAR/")
    assert dispatch.signature and dispatch.sending_unit_id == ministry.units["DAKAR"].pk
    routing = Routing.objects.get(dispatch=dispatch)
    assert routing.unit.code == "SG/4" and routing.kind == RoutingKind.ACTION and routing.due_date is not None
    attachment = Attachment.objects.get(dispatch=dispatch)
    assert attachment.filename.endswith(".pdf")
    synthesis = Synthesis.objects.unrestricted("test").get(programme=dakar)
    assert synthesis.dispatch_id == dispatch.pk
    assert dispatch.classification == synthesis.classification
    # The planning division receives it in its scope.
    assert Dispatch.objects.visible_to(ministry.users["plan.sg4"]).filter(pk=dispatch.pk).exists() == (
        ministry.users["plan.sg4"].clearance.level >= dispatch.classification
    )
    with translation.override("en"), pytest.raises(ValidationError, match="already sent"):
        services.send(user=hom, programme=dakar)
