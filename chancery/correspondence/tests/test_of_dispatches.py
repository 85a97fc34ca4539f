"""`of_dispatches`: a dispatch's children under a set of dispatches read through the gate."""

from __future__ import annotations

from typing import Any

import pytest

from chancery.core.gate import GateBypassError
from chancery.correspondence.models import Dispatch, Routing
from chancery.correspondence.tests.views_helpers import build_world
from chancery.organisation.models import Unit

pytestmark = pytest.mark.django_db


def test_the_same_rows_as_the_gate_narrowed_to_the_set(ministry: Any) -> None:
    """For every agent and a few narrowings of what they may read, the routings of the set are the
    routings the gate gives them, of dispatches in the set: nothing of a dispatch out of scope."""
    build_world(ministry)
    everything = set(Routing.objects.unrestricted("test: every routing").values_list("pk", flat=True))
    assert everything
    seen_out_of_scope = False
    for user in ministry.users.values():
        visible = Dispatch.objects.visible_to(user)
        for narrowed in (visible, visible.released(), visible.filter(classification__gte=1)):
            ids = set(narrowed.values_list("pk", flat=True))
            expected = set(Routing.objects.visible_to(user).filter(dispatch_id__in=ids).values_list("pk", flat=True))
            got = set(Routing.objects.of_dispatches(narrowed).values_list("pk", flat=True))
            assert got == expected, user.username
        seen_out_of_scope |= set(Routing.objects.of_dispatches(visible).values_list("pk", flat=True)) != everything
    assert seen_out_of_scope  # some agent may not read some routed dispatch: the test could fail


def test_refuses_a_set_not_read_through_the_gate(ministry: Any) -> None:
    with pytest.raises(GateBypassError):
        Routing.objects.of_dispatches(Dispatch.objects.filter(pk__gt=0))
    with pytest.raises(GateBypassError):
        Routing.objects.of_dispatches(Unit.objects.all())  # type: ignore[arg-type]
