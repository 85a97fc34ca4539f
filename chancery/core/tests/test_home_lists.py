"""Home-page lists that are cut say so and link to the rest (issue 8)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chancery.organisation.models import Unit, UnitKind

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"


def _submitted_programmes(ministry, count):
    from chancery.planning import services
    from chancery.planning.models import Axis

    missions = list(Unit.objects.unrestricted("t").filter(kind=UnitKind.MISSION).order_by("code")[:count])
    for mission in missions:
        hom = ministry.users.get(f"hom.{mission.code.lower()}")
        assert hom is not None, mission.code
        programme = services.create_programme(user=hom, mission=mission, year=2026)
        axis = Axis.objects.unrestricted("t").filter(programme=programme).first()
        assert axis is not None
        services.create_action(user=hom, programme=programme, axis=axis, title="Action")
        services.submit_programme(user=hom, programme=programme)


def test_the_review_list_says_it_is_cut_and_links_to_the_rest(ministry, client_for):
    _submitted_programmes(ministry, 11)
    page = client_for("plan.sg4").get(reverse("core:home")).content.decode()
    assert "Only the first 10 are shown." in page
    assert f'href="{reverse("planning:programme_list")}?status=submitted"' in page


def test_a_whole_list_says_nothing(ministry, client_for):
    _submitted_programmes(ministry, 3)
    page = client_for("plan.sg4").get(reverse("core:home")).content.decode()
    assert "Only the first" not in page
