"""Holes an attack found, on the correspondence side."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from chancery.correspondence import services
from chancery.correspondence.models import Citation, Dispatch
from chancery.correspondence.tests.domain_helpers import draft

pytestmark = pytest.mark.django_db

RLO = "\u202e"


def test_a_direction_override_in_a_cited_reference_is_refused(ministry):
    before = Citation.objects.count()
    with pytest.raises(ValidationError) as caught:
        draft(ministry, external_references=[f"MAE/2026/{RLO}77"])
    assert "external_references" in caught.value.message_dict
    assert Citation.objects.count() == before


@pytest.mark.parametrize("field", ["external_reference", "sender_name", "place"])
def test_a_direction_override_in_registered_mail_is_refused(ministry, field):
    values: dict[str, Any] = {"external_reference": "N/2026/1", "sender_name": "Ambassade du Chili", "place": "Dakar"}
    values[field] = f"x{RLO}y"
    count = Dispatch.objects.unrestricted("test").count()
    with pytest.raises(ValidationError) as caught:
        services.register_incoming(
            actor=ministry.users["clerk.sgbo"], unit=ministry.units["SG/BO"], subject="Note verbale",
            routings=[services.RoutingSpec(unit="DAB/1", kind="action")], **values,
        )
    assert field in caught.value.message_dict
    assert Dispatch.objects.unrestricted("test").count() == count


def test_arabic_direction_marks_stay_allowed(ministry):
    dispatch = draft(ministry, external_references=["\u200fمرجع 12/2026"])
    assert Citation.objects.filter(citing=dispatch).exists()


def test_the_buttons_and_the_services_ask_the_same_policy(ministry):
    """What a page offers is what the service then allows (one table in `correspondence.policy`)."""
    from chancery.correspondence import policy, selectors
    from chancery.correspondence.tests.domain_helpers import sent

    dispatch = sent(ministry, author="counsellor.dakar", classification=0)
    for username in ("head.dab1", "desk.dab1", "clerk.dakar", "hom.dakar"):
        user = ministry.users[username]
        offered = selectors.allowed_actions(user, dispatch)
        units = [r.unit for r in selectors.my_routings(user, dispatch)]
        assert offered["reply"] == policy.holds_in_any(user, "reply", units)
        assert bool(offered["acknowledge"]) == any(
            r.status == "pending" and r.kind == "action" and policy.holds(user, "acknowledge", r.unit)
            for r in selectors.my_routings(user, dispatch)
        )
        if not offered["acknowledge"] and units:
            with pytest.raises(services.NotAllowed):
                services.acknowledge(actor=user, dispatch=dispatch, unit=units[0])
