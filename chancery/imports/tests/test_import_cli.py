"""`chancery import-letter` on the samples and variants: dry run against the expected records, then real saves."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from chancery.correspondence.models import Attachment, Citation, Dispatch, Routing
from chancery.imports.models import ImportStatus, LetterImport
from chancery.planning.models import Axis, Indicator, Objective, Programme

from .conftest import SAMPLE_NAMES, SAMPLES_DIR, dispatch_of, expected, programme_of

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_letter", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def sample(name: str) -> str:
    return str(SAMPLES_DIR / f"{name}.txt")


def _matches(got: dict[str, Any], wanted: dict[str, Any], name: str) -> None:
    for field, value in wanted["dispatch"].items():
        assert got["dispatch"][field] == value, f"{name}: dispatch.{field}"
    if wanted["programme"] is None:
        assert got["programme"] is None, name
    else:
        for field, value in wanted["programme"].items():
            assert got["programme"][field] == value, f"{name}: programme.{field}"


def test_dry_run_json_of_one_file_is_the_expected_object(ministry: Any) -> None:
    out, _err = run(sample("fr-plan-2022-dakar"), "--dry-run", "--json")
    record = json.loads(out)
    assert isinstance(record, dict) and set(record) == {"dispatch", "programme", "fields"}
    _matches(record, expected("fr-plan-2022-dakar"), "dakar")
    # per field: how sure the reading is and the line it came from; the incomplete reference is to check
    fields = record["fields"]
    assert fields["reference"]["line"] == 6 and fields["reference"]["source"].startswith("Référence")
    assert fields["reference"]["check"] is True and fields["reference"]["confidence"] < 0.7
    assert fields["subject"]["check"] is False and fields["subject"]["confidence"] >= 0.9
    assert fields["date"]["source"] == "Dakar, le 14 septembre 2021"
    assert fields["programme.year"]["value"] == 2022 and fields["programme.axes"]["line"] is not None
    assert Dispatch.objects.unrestricted("test").count() == 0
    assert LetterImport.objects.unrestricted("test").count() == 0


def test_dry_run_json_of_every_sample_and_variant(ministry: Any) -> None:
    out, err = run(*[sample(name) for name in SAMPLE_NAMES], "--dry-run", "--json")
    records = json.loads(out)
    assert isinstance(records, list) and len(records) == len(SAMPLE_NAMES) >= 10
    for name, record in zip(SAMPLE_NAMES, records, strict=True):
        _matches(record, expected(name), name)
    assert err == ""
    assert Dispatch.objects.unrestricted("test").count() == 0


def test_dry_run_in_words_shows_matches_and_problems(ministry: Any) -> None:
    out, _err = run(sample("en-cable-2023-ottawa"), "--dry-run")
    assert "route info   Press Office → DCP/5 [alias]" in out
    assert "route action DAM/1 → DAM/1 [code]" in out
    assert "sending mission OTT" in out
    out, _err = run(sample("fr-plan-2025-abidjan"), "--dry-run")
    assert "DAO/1 → UNMATCHED [fuzzy] (did you mean" in out


def test_saving_needs_an_agent(ministry: Any) -> None:
    with pytest.raises(CommandError, match="--as USER is required"):
        run(sample("fr-plan-2022-dakar"))
    with pytest.raises(CommandError, match="no active user"):
        run(sample("fr-plan-2022-dakar"), "--as", "nobody")
    with pytest.raises(CommandError, match="may not register"):
        run(sample("fr-plan-2022-dakar"), "--as", "hom.dakar")


def test_import_dakar_creates_the_dispatch_routings_and_draft_programme(ministry: Any, importer: Any) -> None:
    out, _err = run(sample("fr-plan-2022-dakar"), "--as", importer.username)
    assert "imported" in out and "draft programme" in out
    row = LetterImport.objects.unrestricted("test").get(status=ImportStatus.IMPORTED)
    dispatch = dispatch_of(row)
    assert dispatch.direction == "incoming" and dispatch.status == "sent"
    assert dispatch.reference.startswith("SG/BO/")
    assert dispatch.sending_unit.code == "SG/BO"
    assert dispatch.external_reference == "/2021"
    assert dispatch.place == "Dakar" and str(dispatch.dated) == "2021-09-14"
    assert dispatch.sender_name == ministry.units["DAKAR"].name
    assert dispatch.classification == 0 and dispatch.transmission == "clear"
    assert dispatch.subject == "Programme d'actions de l'Ambassade au titre de l'année 2022"
    assert "Tableau des actions 2022" in dispatch.body and "Calendrier prévisionnel" in dispatch.body
    assert "42,5 millions EUR" in dispatch.body
    assert dispatch.body.count("pas figé") == 1  # the observations, once
    assert "IMPORT" in dispatch.tags
    routings = {(r.unit.code, r.kind) for r in Routing.objects.filter(dispatch=dispatch).select_related("unit")}
    assert routings == {("DAB/2", "action"), ("DG3/1", "info"), ("DCP/5", "info")}
    citations = list(Citation.objects.filter(citing=dispatch))
    assert [c.external_reference for c in citations] == ["DAB/2 n° 1207 du 2 juillet 2021"]
    attachment = Attachment.objects.get(dispatch=dispatch)
    assert attachment.filename == "fr-plan-2022-dakar.txt"
    assert attachment.size == (SAMPLES_DIR / "fr-plan-2022-dakar.txt").stat().st_size
    assert attachment.sha256 == row.content_hash

    programme = programme_of(row)
    assert programme.mission.code == "DAKAR" and programme.year == 2022 and programme.status == "draft"
    assert dispatch.reference in programme.summary
    axes = list(Axis.objects.unrestricted("test").filter(programme=programme).select_related("axis_type"))
    assert [a.axis_type.key for a in axes] == ["political", "economic", "cultural", "communication"]
    economic = next(a for a in axes if a.axis_type.key == "economic")
    assert economic.narrative.startswith("Les échanges commerciaux bilatéraux ont atteint 42,5 millions EUR")
    objectives = list(Objective.objects.unrestricted("test").filter(axis__programme=programme))
    assert len(objectives) == 2 and objectives[0].title.startswith("L'objectif sera d'obtenir")
    (indicator,) = Indicator.objects.unrestricted("test").filter(programme=programme)
    assert indicator.unit == "million EUR" and indicator.axis_id == economic.pk
    assert (indicator.baseline_value, indicator.baseline_year) == (Decimal("42.5"), 2020)
    assert (indicator.approved_target, indicator.target_year) == (Decimal("50"), 2022)


def test_import_ottawa_routes_the_alias_and_protects_the_content(ministry: Any, importer: Any) -> None:
    run(sample("en-cable-2023-ottawa"), "--as", importer.username)
    row = LetterImport.objects.unrestricted("test").get(status=ImportStatus.IMPORTED)
    dispatch = dispatch_of(row)
    routings = {(r.unit.code, r.kind) for r in Routing.objects.filter(dispatch=dispatch).select_related("unit")}
    assert routings == {("DAM/1", "action"), ("DG2/4", "info"), ("DCP/5", "info")}
    assert dispatch.classification == 2 and dispatch.transmission == "encrypted"
    assert dispatch.subject == "" and dispatch.is_encrypted  # confidential: stored encrypted
    assert Attachment.objects.get(dispatch=dispatch).encrypted
    programme = programme_of(row)
    assert (programme.mission.code, programme.year, programme.classification) == ("OTT", 2023, 2)
    # The import row keeps no content in clear.
    assert "Action plan" not in json.dumps(row.extraction) and row.pending_ciphertext is None


def test_reimporting_the_same_file_is_skipped_and_reported(ministry: Any, importer: Any, tmp_path: Path) -> None:
    run(sample("fr-plan-2022-dakar"), "--as", importer.username)
    copy = tmp_path / "renamed.txt"
    copy.write_bytes((SAMPLES_DIR / "fr-plan-2022-dakar.txt").read_bytes())
    out, _err = run(sample("fr-plan-2022-dakar"), str(copy), "--as", importer.username)
    assert out.count("skipped") >= 2 and "already imported" in out
    assert "0 imported" in out and "2 skipped" in out
    assert Dispatch.objects.unrestricted("test").count() == 1
    assert Programme.objects.unrestricted("test").count() == 1


def test_json_results_when_saving(ministry: Any, importer: Any) -> None:
    out, _err = run(sample("fr-plan-2022-dakar"), "--as", importer.username, "--json")
    result = json.loads(out)
    assert result["status"] == "imported" and result["dispatch"].startswith("SG/BO/")
    assert result["programme_id"] is not None and result["error"] is None


def test_unmatched_attribution_fails_the_file_or_goes_to_the_registry(ministry: Any, importer: Any) -> None:
    with pytest.raises(CommandError, match="1 file"):
        run(sample("fr-plan-2025-abidjan"), "--as", importer.username)
    assert Dispatch.objects.unrestricted("test").count() == 0
    failed = LetterImport.objects.unrestricted("test").get(status=ImportStatus.FAILED)
    assert failed.error_code == "unmatched_unit" and "DAO/1" in failed.error_message

    out, _err = run(sample("fr-plan-2025-abidjan"), "--as", importer.username, "--unmatched", "registry")
    assert "warning:" in out and "DAO/1" in out
    dispatch = Dispatch.objects.unrestricted("test").get()
    routings = {(r.unit.code, r.kind) for r in Routing.objects.filter(dispatch=dispatch).select_related("unit")}
    assert ("SG/BO", "action") in routings and ("DG3/2", "info") in routings
    # the earlier failure of the same file is cleared once it is imported
    assert not LetterImport.objects.unrestricted("test").filter(status=ImportStatus.FAILED).exists()


def test_confidential_letter_above_the_agents_clearance_fails_cleanly(ministry: Any) -> None:
    with pytest.raises(CommandError):
        run(sample("en-cable-2023-ottawa"), "--as", "clerk.sgbo")  # cleared Diffusion restreinte only
    assert Dispatch.objects.unrestricted("test").count() == 0
    failed = LetterImport.objects.unrestricted("test").get(status=ImportStatus.FAILED)
    assert failed.error_code == "not_allowed" and "clearance" in failed.error_message



@pytest.mark.django_db
@pytest.mark.parametrize("notify", [True, False], ids=["notified", "historical"])
def test_import_notifies_the_attributed_unit_unless_historical(
    importer: Any, notify: bool, django_capture_on_commit_callbacks: Any
) -> None:
    """`--no-notify` registers and routes the letter but tells nobody (archives)."""
    from chancery.notifications.models import Notification

    source = SAMPLES_DIR / "fr-plan-2022-dakar.txt"
    flags = [] if notify else ["--no-notify"]
    with django_capture_on_commit_callbacks(execute=True):
        run(str(source), "--as", importer.username, "--no-progress", *flags)
    row = LetterImport.objects.get(status=ImportStatus.IMPORTED)
    assert Routing.objects.filter(dispatch=dispatch_of(row)).count() == 3
    recipients = set(Notification.objects.unrestricted("test").values_list("recipient__username", flat=True))
    if notify:
        assert "desk.dab2" in recipients
    else:
        assert not recipients
