"""The permission gate through the API, for every demo role: in scope 200, out of scope 404 and absent from lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client

from chancery.accounts.models import Membership
from chancery.accounts.roles import Role
from chancery.accounts.services import issue_api_token
from chancery.core.classification import Level
from chancery.planning import services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Achievement, Action, Axis, Indicator, Programme, ProgrammeComment

if TYPE_CHECKING:
    from chancery.accounts.models import User

YEAR = 2026

# username → may read the Dakar programme (HQ desk DAB/1, region RAFR)
ROLES = {
    "hom.dakar": True,  # head of the mission
    "counsellor.dakar": True,  # mission staff
    "desk.dab1": True,  # the mission's HQ desk
    "director.dab": True,  # oversees the desk's directorate
    "plan.sg4": True,  # planning unit
    "inspect.sg5": True,  # inspection unit
    "hom.lima": False,  # another mission
    "auditor": False,  # no programme rights
    "desk.dam2": False,  # another desk
    "clerk.sgbo": False,  # central registry
}


def api_client(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")


@pytest.fixture
def world(ministry: Any) -> dict[str, Any]:
    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=u["counsellor.dakar"])
    action = Action.objects.unrestricted("t").filter(programme=programme).first()
    indicator = Indicator.objects.unrestricted("t").filter(programme=programme).first()
    assert action is not None and indicator is not None
    services.record_measurement(user=u["counsellor.dakar"], indicator=indicator, period_type="quarter",
                                period_start=date(YEAR, 1, 1), value=Decimal("61"))
    achievement = services.create_achievement(user=u["counsellor.dakar"], programme=programme, kind="meeting",
                                              date=date(YEAR, 2, 3), title="Meeting", actions=[action])
    services.comment(user=u["desk.dab1"], programme=programme, body="Remark")
    return {"programme": programme, "action": action, "indicator": indicator, "achievement": achievement}


@pytest.mark.parametrize(("username", "allowed"), sorted(ROLES.items()))
def test_every_endpoint_follows_the_gate(ministry: Any, world: dict[str, Any], username: str, allowed: bool) -> None:
    client = api_client(ministry.users[username])
    p, a, i, ach = world["programme"], world["action"], world["indicator"], world["achievement"]
    expected = 200 if allowed else 404
    for url in (
        f"/api/v1/programmes/{p.pk}",
        f"/api/v1/programmes/{p.pk}/versions",
        f"/api/v1/programmes/{p.pk}/baseline-comparison",
        f"/api/v1/actions/{a.pk}",
        f"/api/v1/axes/{a.axis_id}",
        f"/api/v1/indicators/{i.pk}",
        f"/api/v1/indicators/{i.pk}/measurements",
        f"/api/v1/achievements/{ach.pk}",
    ):
        response = client.get(url)
        assert response.status_code == expected, (url, response.content)
        if not allowed:
            assert response.json()["code"] == "not_found"
    listings = {
        "/api/v1/programmes?mission=DAKAR": "programmes",
        f"/api/v1/actions?programme={p.pk}": "actions",
        f"/api/v1/axes?programme={p.pk}": "axes",
        f"/api/v1/indicators?programme={p.pk}": "indicators",
        f"/api/v1/achievements?programme={p.pk}": "achievements",
    }
    for url in listings:
        data = client.get(url).json()
        assert (data["count"] > 0) is allowed, url
    # Writes to an object out of scope also answer 404, never 403.
    if not allowed:
        response = client.patch(f"/api/v1/actions/{a.pk}", {"lock_version": a.lock_version, "title": "x"},
                                content_type="application/json")
        assert response.status_code == 404
        response = client.post(f"/api/v1/indicators/{i.pk}/measurements",
                               {"period_type": "year", "period_start": f"{YEAR}-01-01", "value": "1"},
                               content_type="application/json")
        assert response.status_code == 404


@pytest.mark.parametrize(("username", "allowed"), sorted(ROLES.items()))
def test_selectors_follow_the_gate(ministry: Any, world: dict[str, Any], username: str, allowed: bool) -> None:
    user = ministry.users[username]
    p = world["programme"]
    assert Programme.objects.visible_to(user).filter(pk=p.pk).exists() is allowed
    children: tuple[Any, ...] = (Axis, Action, Indicator, Achievement, ProgrammeComment)
    for model in children:
        found = model.objects.visible_to(user).filter(programme_id=p.pk).exists()
        assert found is allowed, model.__name__


def test_clearance_must_dominate_the_marking(ministry: Any, world: dict[str, Any]) -> None:
    p: Programme = world["programme"]
    Programme.objects.unrestricted("t").filter(pk=p.pk).update(classification=Level.SECRET)
    for username in ("counsellor.dakar", "desk.dab1", "plan.sg4", "inspect.sg5"):
        user = ministry.users[username]
        user.forget_cached_rights()
        visible = Programme.objects.visible_to(user).filter(pk=p.pk).exists()
        assert visible is (user.clearance_level >= Level.SECRET), username
        assert Action.objects.visible_to(user).filter(programme=p).exists() is visible
        status = api_client(user).get(f"/api/v1/programmes/{p.pk}").status_code
        assert status == (200 if visible else 404)


def test_compartments_must_be_held(ministry: Any, world: dict[str, Any]) -> None:
    from chancery.core.models import Compartment

    p: Programme = world["programme"]
    p.compartments.set([Compartment.objects.get(code="CRYPTO")])
    planner = ministry.users["plan.sg4"]
    planner.forget_cached_rights()
    assert not Programme.objects.visible_to(planner).filter(pk=p.pk).exists()
    planner.clearance_compartments.add(Compartment.objects.get(code="CRYPTO"))
    planner.forget_cached_rights()
    assert Programme.objects.visible_to(planner).filter(pk=p.pk).exists()


def test_region_overseers_see_their_missions_plans(ministry: Any, world: dict[str, Any]) -> None:
    p: Programme = world["programme"]
    region = ministry.units["RAFR"]
    overseer, agent = ministry.users["head.dam1"], ministry.users["desk.das1"]
    Membership.objects.create(user=overseer, unit=region, role=Role.DIRECTOR)
    Membership.objects.create(user=agent, unit=region, role=Role.AGENT)
    for user in (overseer, agent):
        user.forget_cached_rights()
    assert Programme.objects.visible_to(overseer).filter(pk=p.pk).exists()
    assert not Programme.objects.visible_to(agent).filter(pk=p.pk).exists()


def test_anonymous_and_inactive_see_nothing(ministry: Any, world: dict[str, Any]) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert not Programme.objects.visible_to(AnonymousUser()).exists()
    assert not Programme.objects.visible_to(None).exists()
    user = ministry.users["hom.dakar"]
    user.is_active = False
    assert not Programme.objects.visible_to(user).exists()
    assert Client().get("/api/v1/programmes").status_code == 401
