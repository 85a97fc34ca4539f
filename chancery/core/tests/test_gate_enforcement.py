"""The gate fails closed: a view reading a protected queryset without visible_to() raises."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from chancery.core.db import count_statement
from chancery.core.gate import GateBypassError, get_visible_or_404
from chancery.core.keyset import capped_counts
from chancery.core.middleware import GateEnforcementMiddleware
from chancery.organisation.models import Unit

if TYPE_CHECKING:
    from chancery.accounts.models import User


def _serve(view: Any, user: User) -> HttpResponse:
    request = RequestFactory().get("/")
    request.user = user
    return GateEnforcementMiddleware(view)(request)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "read",
    [
        lambda user: list(Unit.objects.all()),
        lambda user: Unit.objects.count(),
        lambda user: Unit.objects.filter(kind="mission").exists(),
        lambda user: Unit.objects.get(code="DAKAR"),
        lambda user: list(Unit.objects.get(code="RAFR").children.all()),
        lambda user: list(Unit.objects.values_list("code", flat=True)),
        lambda user: capped_counts({"units": Unit.objects.filter(kind="mission")}),
        lambda user: count_statement(Unit.objects.filter(kind="mission")),
    ],
    ids=["list", "count", "exists", "get", "reverse-relation", "values_list", "capped-counts", "compiled-count"],
)
def test_a_view_that_forgets_the_gate_fails(ministry: Any, read: Any) -> None:
    def careless_view(request: HttpRequest) -> HttpResponse:
        read(request.user)
        return HttpResponse("leaked")

    with pytest.raises(GateBypassError):
        _serve(careless_view, ministry.users["counsellor.dakar"])


@pytest.mark.django_db
def test_a_view_that_uses_the_gate_works(ministry: Any) -> None:
    def careful_view(request: HttpRequest) -> HttpResponse:
        unit = get_visible_or_404(Unit.objects.all(), request.user, code="DAKAR")
        count = Unit.objects.visible_to(request.user).filter(parent=unit.parent).count()
        return HttpResponse(str(count))

    response = _serve(careful_view, ministry.users["counsellor.dakar"])
    assert int(response.content) > 1


@pytest.mark.django_db
def test_outside_a_request_services_read_freely(ministry: Any) -> None:
    assert Unit.objects.filter(code="DAKAR").exists()


@pytest.mark.django_db
def test_anonymous_sees_nothing_through_the_gate(ministry: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert Unit.objects.visible_to(AnonymousUser()).count() == 0
