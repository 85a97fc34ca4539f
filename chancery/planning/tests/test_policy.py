"""One policy for planning: `can(user, action, programme)` is what buttons, views, API and services ask."""

from __future__ import annotations

from typing import Any

import pytest

from chancery.planning import policy, services
from chancery.planning.demo import sample_programme

pytestmark = pytest.mark.django_db


def test_can_answers_as_the_buttons_and_the_services(ministry: Any) -> None:
    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=u["counsellor.dakar"])
    assert policy.can(u["counsellor.dakar"], "edit", programme)
    assert not policy.can(u["plan.sg4"], "approve", programme)  # not submitted yet
    assert not policy.can(u["hom.lima"], "view", programme)  # another mission
    assert not policy.can(u["counsellor.dakar"], "fly", programme)  # type: ignore[arg-type]
    services.submit_programme(user=u["hom.dakar"], programme=programme)
    programme.refresh_from_db()
    assert policy.can(u["plan.sg4"], "approve", programme)
    assert not policy.can(u["counsellor.dakar"], "edit", programme)  # under review
    for username in ("counsellor.dakar", "plan.sg4", "desk.dab1", "hom.lima"):
        rights = policy.permissions(u[username], programme)
        assert rights == {name: policy.can(u[username], name, programme) for name in policy.PERMISSION_NAMES}
    # The services re-ask the same rule.
    assert services.can is policy.can and services.permissions is policy.permissions
