"""Optimistic locking on units, agents and indicators (programmes, actions and drafts have their own tests).

Two editors open the same form; both save. The first save wins, the second is refused with a
message and saves nothing, so nobody's change is silently overwritten.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.db import connection

from chancery.accounts.models import User
from chancery.core.locking import StaleVersion, claim_version
from chancery.organisation.models import Unit
from chancery.planning.demo import sample_programme
from chancery.planning.models import Indicator

STALE = "Someone else saved this meanwhile"


def _form_data(html: str) -> dict[str, str]:
    """The values an agent's browser would post back: every input, and each select's chosen option."""
    data = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if name and 'type="checkbox"' not in tag and 'type="submit"' not in tag:
            value = re.search(r'value="([^"]*)"', tag)
            data[name.group(1)] = value.group(1) if value else ""
        elif name and "checked" in tag:
            data[name.group(1)] = "on"
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = chosen.group(1) if chosen else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        data[name] = body.strip()
    data.pop("csrfmiddlewaretoken", None)
    return data


def _two_editors(client_for: Any, username: str, url: str, field: str, first: str, second: str) -> tuple[Any, Any]:
    alice, bob = client_for(username), client_for(username)
    form_a = _form_data(alice.get(url).content.decode())
    form_b = _form_data(bob.get(url).content.decode())
    assert form_a["lock_version"] == form_b["lock_version"] != ""
    saved = alice.post(url, {**form_a, field: first})
    refused = bob.post(url, {**form_b, field: second})
    return saved, refused


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    """Pages in English (the source language), whatever catalogues exist for the default French."""
    settings.LANGUAGE_CODE = "en"


def test_two_editors_of_a_unit(client_for, ministry):
    unit = ministry.units["DAKAR"]
    url = f"/organisation/admin/units/{unit.code}/edit/"
    saved, refused = _two_editors(client_for, "admin", url, "name", "Ambassade à Dakar (A)", "Ambassade (B)")
    assert saved.status_code == 302
    assert refused.status_code == 200 and STALE in refused.content.decode()
    unit.refresh_from_db()
    assert unit.name == "Ambassade à Dakar (A)" and unit.lock_version == 2


def test_two_editors_of_an_agent(client_for, ministry):
    agent = ministry.users["clerk.dakar"]
    url = f"/organisation/admin/agents/{agent.username}/edit/"
    saved, refused = _two_editors(client_for, "admin", url, "last_name", "Alpha", "Bravo")
    assert saved.status_code == 302
    assert refused.status_code == 200 and STALE in refused.content.decode()
    agent.refresh_from_db()
    assert agent.last_name == "Alpha" and agent.lock_version == 2


def test_two_editors_of_an_indicator(client_for, ministry):
    programme = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=ministry.users["counsellor.dakar"])
    indicator = Indicator.objects.unrestricted("test").filter(programme=programme).first()
    assert indicator is not None
    url = f"/planning/{programme.pk}/indicators/{indicator.pk}/edit/"
    saved, refused = _two_editors(client_for, "counsellor.dakar", url, "label", "Visites (A)", "Visites (B)")
    assert saved.status_code == 302
    assert refused.status_code == 200 and STALE in refused.content.decode()
    indicator.refresh_from_db()
    assert indicator.label == "Visites (A)" and indicator.lock_version == 2


def test_a_caller_that_read_nothing_still_moves_the_version(ministry):
    unit = Unit.objects.unrestricted("test").get(code="DAKAR")
    claim_version(unit, None)
    assert unit.lock_version == 2 == Unit.objects.unrestricted("test").get(pk=unit.pk).lock_version
    with pytest.raises(StaleVersion):
        claim_version(unit, 1)


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_one_wins(fresh_ministry):
    """Two real transactions on two connections claim the same version: exactly one wins."""
    from django.db import transaction

    user = User.objects.get(username="clerk.dakar")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                target = User.objects.get(pk=user.pk)
                claim_version(target, 1)
                target.last_name = name
                target.save()
            outcomes.append(name)
        except StaleVersion:
            outcomes.append("stale")
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(n,)) for n in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes)[-1] == "stale" and len(outcomes) == 2
    winner = next(o for o in outcomes if o != "stale")
    fresh = User.objects.get(pk=user.pk)
    assert fresh.last_name == winner and fresh.lock_version == 2
