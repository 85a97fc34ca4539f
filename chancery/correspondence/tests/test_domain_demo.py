"""The demo correspondence follows the same rules as the services."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

import pytest

from chancery.correspondence import selectors
from chancery.correspondence.demo import populate
from chancery.correspondence.models import Attachment, Dispatch, NumberCounter, Routing
from chancery.correspondence.signatures import verify_dispatch

pytestmark = pytest.mark.django_db


def test_demo_is_consistent(ministry: Any) -> None:
    out = io.StringIO()
    populate(ministry=ministry, seed=3, stdout=out, count=160)
    assert "Demo correspondence: 160 dispatches" in out.getvalue()
    dispatches = list(
        Dispatch.objects.unrestricted("test").select_related(
            "sending_unit", "author", "sent_by", "data_key", "in_reply_to"
        )
    )
    assert len(dispatches) == 160
    assert {d.classification for d in dispatches} >= {0, 1, 2}
    assert {d.direction for d in dispatches} >= {"outgoing", "incoming"}
    # every sent dispatch verifies: signature, content hash and attachment files
    for d in dispatches:
        if d.is_sent:
            result = verify_dispatch(d)
            assert result.valid, (d.reference, result.reason)
        else:
            assert d.reference is None
        if d.needs_encryption:
            assert d.is_encrypted and d.subject == ""
            assert selectors.dispatch_subject(d)
    assert Attachment.objects.filter(encrypted=True).exists()
    # numbering: gap-free per unit and year, counters agree
    numbers: dict[tuple[int, int], list[int]] = defaultdict(list)
    for d in dispatches:
        if d.number is not None and d.year is not None:
            numbers[(d.sending_unit_id, d.year)].append(d.number)
    for (unit_id, year), got in numbers.items():
        assert sorted(got) == list(range(1, len(got) + 1))
        assert NumberCounter.objects.get(unit_id=unit_id, year=year).last_number == len(got)
    # threads and answered routings
    replies = [d for d in dispatches if d.in_reply_to_id]
    assert replies
    assert Routing.objects.filter(status="answered", answer__isnull=False).count() >= len(replies) * 0.9
    # the demo users have something in their inbox, through the gate
    desk = ministry.users["desk.dab1"]
    inbox = list(selectors.inbox(desk))
    assert inbox
    visible = set(Dispatch.objects.visible_to(desk).values_list("pk", flat=True))
    assert {r.dispatch_id for r in inbox} <= visible
