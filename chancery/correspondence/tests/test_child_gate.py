"""A dispatch's children (routings, citations, attachments, grants, marking changes) are read
through their dispatch's gate: `Model.objects` without it fails during a request, `visible_to`
gives exactly the children of visible dispatches, and a dispatch in hand reads its own."""

from __future__ import annotations

from typing import Any

import pytest

from chancery.core.gate import GateBypassError, enforcing, protected_models
from chancery.correspondence import services
from chancery.correspondence.models import Attachment, Citation, Dispatch, DispatchGrant, MarkingChange, Routing
from chancery.correspondence.tests.domain_helpers import sent

pytestmark = pytest.mark.django_db

CHILDREN: list[Any] = [Routing, Citation, Attachment, DispatchGrant, MarkingChange]


def test_children_are_read_through_their_dispatch(ministry: Any) -> None:
    u = ministry.users
    d = sent(ministry, author="hom.dakar", classification=1, external_references=["EXT/1"],
             attachments=[("a.txt", b"pj")])
    services.grant_access(actor=u["hom.dakar"], dispatch=d, user=u["security"], reason="review")
    services.change_marking(actor=u["security"], dispatch=d, classification=2, reason="raised")
    reader, outsider = u["desk.dab1"], u["desk.dg76"]
    assert set(CHILDREN) <= set(protected_models())
    with enforcing():
        for model in CHILDREN:
            with pytest.raises(GateBypassError):
                model.objects.count()
            with pytest.raises(GateBypassError):
                list(model.objects.filter(pk__gt=0))
            assert model.objects.visible_to(reader).count() == 1, model
            assert model.objects.visible_to(outsider).count() == 0, model
            assert model.objects.visible_to(None).count() == 0, model
        held = Dispatch.objects.visible_to(reader).get(pk=d.pk)
        assert [r.unit.code for r in held.routings.all()] == ["DAB/1"]
        assert Attachment.objects.of_dispatch(held).count() == 1
        assert len(Dispatch.objects.visible_to(reader).prefetch_related("citations", "marking_changes")) == 1
