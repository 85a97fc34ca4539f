"""Regression tests of the security review: gate reads, audit details, FK leaks, banners."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from chancery.audit.models import AuditEvent
from chancery.core.classification import Level
from chancery.correspondence import services as correspondence
from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Indicator, Programme

YEAR = 2026


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"


def _programme(ministry: Any, level: int) -> Programme:
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])
    Programme.objects.unrestricted("test").filter(pk=programme.pk).update(classification=level)
    programme.refresh_from_db()
    return programme


@pytest.fixture
def restricted(ministry: Any) -> Programme:
    return _programme(ministry, Level.RESTRICTED)


def _title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match is not None
    return match.group(1)


def test_achievement_edit_page_reads_through_the_gate(client_for: Any, ministry: Any, restricted: Programme) -> None:
    u = ministry.users
    action = Action.objects.unrestricted("t").filter(programme=restricted).earliest("pk")
    achievement = services.create_achievement(
        user=u["counsellor.dakar"], programme=restricted, kind="visit", date=date(YEAR, 3, 2), title="Visit",
        actions=[action],
    )
    services.add_achievement_evidence(user=u["counsellor.dakar"], achievement=achievement, filename="photo.txt",
                                      content=b"evidence")
    response = client_for("counsellor.dakar").get(f"/planning/{restricted.pk}/achievements/{achievement.pk}/edit/")
    assert response.status_code == 200  # was a GateBypassError (500): reverse managers are not gated
    html = response.content.decode()
    assert "photo.txt" in html
    assert re.search(rf'name="actions" value="{action.pk}"[^>]*checked', html)


def _audit_text(since: int) -> str:
    return json.dumps(list(AuditEvent.objects.filter(sequence__gt=since).values_list("action", "details")))


def _last_sequence() -> int:
    last = AuditEvent.objects.order_by("-sequence").first()
    return last.sequence if last else 0


def _churn(ministry: Any, programme: Programme) -> None:
    u = ministry.users
    counsellor = u["counsellor.dakar"]
    axis = Axis.objects.unrestricted("t").filter(programme=programme).earliest("pk")
    action = services.create_action(user=counsellor, programme=programme, axis=axis, title="Zanzibar talks")
    services.delete_action(user=counsellor, action=action)
    indicator = services.create_indicator(user=counsellor, programme=programme, label="Quokka exports")
    services.record_measurement(user=counsellor, indicator=indicator, period_type="year",
                                period_start=date(YEAR, 1, 1), value="987654")
    services.delete_indicator(user=counsellor, indicator=indicator)
    achievement = services.create_achievement(user=counsellor, programme=programme, kind="visit",
                                              date=date(YEAR, 3, 2), title="Narwhal visit")
    services.delete_achievement(user=counsellor, achievement=achievement)
    services.submit_programme(user=u["hom.dakar"], programme=programme)
    services.approve_programme(user=u["plan.sg4"], programme=programme)
    services.propose_revision(user=u["hom.dakar"], programme=programme, reason="Ocelot summit moved")
    services.approve_revision(user=u["plan.sg4"], programme=programme)


WORDS = ["Zanzibar", "Quokka", "987654", "Narwhal", "Ocelot"]


def test_audit_log_keeps_no_text_of_a_protected_programme(ministry: Any, restricted: Programme) -> None:
    since = _last_sequence()
    _churn(ministry, restricted)
    text = _audit_text(since)
    assert "planning.action_deleted" in text and "planning.programme_revised" in text
    for word in WORDS:
        assert word not in text, word


def test_audit_log_still_names_things_of_an_unprotected_programme(ministry: Any) -> None:
    since = _last_sequence()
    _churn(ministry, _programme(ministry, Level.UNCLASSIFIED))
    text = _audit_text(since)
    for word in WORDS:
        assert word in text, word


def _sent_dispatch(ministry: Any, classification: int = 0) -> Any:
    u = ministry.users
    draft = correspondence.create_draft(
        actor=u["hom.dakar"], sending_unit=ministry.units["DAKAR"], subject="Plan 2026", body="<p>Plan.</p>",
        classification=classification, routings=[correspondence.RoutingSpec(unit="DAB/1", kind="action")],
    )
    return correspondence.send_dispatch(actor=u["hom.dakar"], dispatch=draft)


def test_submission_dispatch_is_shown_only_to_its_readers(
    client_for: Any, ministry: Any, restricted: Programme
) -> None:
    dispatch = _sent_dispatch(ministry)
    services.submit_programme(user=ministry.users["hom.dakar"], programme=restricted, dispatch=dispatch)
    assert dispatch.reference in client_for("hom.dakar").get(f"/planning/{restricted.pk}/").content.decode()
    from chancery.correspondence.models import Dispatch

    assert not Dispatch.objects.visible_to(ministry.users["plan.sg4"]).filter(pk=dispatch.pk).exists()
    html = client_for("plan.sg4").get(f"/planning/{restricted.pk}/").content.decode()
    assert restricted.title in html  # the programme is readable …
    assert dispatch.reference not in html  # … the dispatch that carried it is not


def test_list_pages_of_protected_plans_carry_the_banner(client_for: Any, ministry: Any, restricted: Programme) -> None:
    client = client_for("counsellor.dakar")
    for url in ["/planning/", "/planning/calendar/?month=2026-03", "/"]:
        html = client.get(url).content.decode()
        assert html.count("marking-banner") == 2, url
        assert "marking-banner marking-level-1" in html, url


def test_list_pages_of_unprotected_plans_have_no_banner(client_for: Any, ministry: Any) -> None:
    _programme(ministry, Level.UNCLASSIFIED)
    client = client_for("counsellor.dakar")
    for url in ["/planning/", "/planning/calendar/?month=2026-03", "/"]:
        assert "marking-banner" not in client.get(url).content.decode(), url


def test_page_titles_name_no_protected_content(client_for: Any, ministry: Any, restricted: Programme) -> None:
    client = client_for("counsellor.dakar")
    action = Action.objects.unrestricted("t").filter(programme=restricted).earliest("pk")
    indicator = Indicator.objects.unrestricted("t").filter(programme=restricted).earliest("pk")
    for url, text in [
        (f"/planning/{restricted.pk}/actions/{action.pk}/edit/", action.title),
        (f"/planning/{restricted.pk}/indicators/{indicator.pk}/edit/", indicator.label),
        (f"/planning/{restricted.pk}/indicators/{indicator.pk}/measurements/", indicator.label),
    ]:
        html = client.get(url).content.decode()
        assert text in html  # on the page, under its banner …
        assert text not in _title(html), url  # … but not in the window title / history


def test_ics_feed_carries_no_title_of_a_protected_programme(ministry: Any, restricted: Programme) -> None:
    user = ministry.users["counsellor.dakar"]
    ics = selectors.ics_for_user(user).replace("\r\n ", "")
    action = Action.objects.unrestricted("t").filter(programme=restricted, lead=user).earliest("pk")
    assert ics.count("BEGIN:VEVENT") >= 1
    assert action.title not in ics
    assert f"SUMMARY:Action #{action.pk} (DAKAR)" in ics


def test_a_programme_from_a_letter_carries_at_least_its_marking(ministry: Any) -> None:
    letter = _sent_dispatch(ministry, classification=Level.RESTRICTED)
    fields: dict[str, Any] = {
        "user": ministry.users["hom.dakar"], "mission": ministry.units["DAKAR"], "year": 2027, "end_year": None,
        "title": "Plan 2027", "summary": "", "source_dispatch": letter,
        "axes": [("political", "Text copied from the letter")], "objectives": [], "indicators": [],
    }
    with pytest.raises(ValidationError) as caught:
        services.create_programme_from_letter(classification=Level.UNCLASSIFIED, **fields)
    assert "classification" in caught.value.message_dict
    assert not Programme.objects.unrestricted("t").filter(mission=ministry.units["DAKAR"], year=2027).exists()
    programme = services.create_programme_from_letter(classification=Level.RESTRICTED, **fields)
    assert programme.classification == Level.RESTRICTED
