"""`FilteredListMiddleware`: a request carrying its reader's filters is planned with its values."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from chancery.core.db import values_decide_plan
from chancery.core.middleware import FilteredListMiddleware

pytestmark = pytest.mark.engine_independent


def _planned_with_values(query: str) -> bool:
    seen: list[bool] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(values_decide_plan())
        return HttpResponse()

    FilteredListMiddleware(view)(RequestFactory().get("/api/v1/dispatches" + query))
    assert values_decide_plan() is False  # and nothing left behind for the next request
    return seen[0]


@pytest.mark.parametrize(
    "query",
    ["?date_from=2017-01-01", "?classification=secret", "?status=open&older=abc", "?q=paris", "?page=2&unit=DAKAR"],
)
def test_a_filtered_list_is_planned_with_its_values(query: str) -> None:
    assert _planned_with_values(query)


@pytest.mark.parametrize("query", ["", "?page=3", "?older=abc", "?newer=abc&limit=20", "?offset=2000"])
def test_a_page_of_a_list_is_prepared(query: str) -> None:
    assert not _planned_with_values(query)


def _planned_with_values_in(client: Any, url: str, monkeypatch: Any, module: Any, selector: str) -> list[bool]:
    """Whether the view's selector ran planned with its values, through the whole stack."""
    seen: list[bool] = []
    real = getattr(module, selector)

    def watched(*args: Any, **kwargs: Any) -> Any:
        seen.append(values_decide_plan())
        return real(*args, **kwargs)

    monkeypatch.setattr(module, selector, watched)
    assert client.get(url).status_code == 200
    return seen


@pytest.mark.django_db
@pytest.mark.parametrize(("query", "with_values"), [
    ("?status=closed", False), ("?status=overdue&older=abc", False), ("?status=open&unit=DAKAR", True),
    ("?kind=action", True), ("?status=all&overdue=on", True), ("", False),
])
def test_the_inbox_status_plans_alike(client_for: Any, monkeypatch: Any, query: str, with_values: bool) -> None:
    """The inbox declares its status filter planned alike (`plans_alike`): filtered by it alone, its
    reads are prepared and planned once; with any other filter, planned with their values."""
    from chancery.correspondence import selectors

    seen = _planned_with_values_in(client_for("counsellor.dakar"), "/correspondence/" + query, monkeypatch,
                                   selectors, "inbox")
    assert seen == [with_values]
    assert values_decide_plan() is False


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "with_values"), [
    ("/planning/?status=draft", False), ("/planning/?status=draft&year=2026", True),
    # Not declared: a dispatch status in the API's wide list decides its plan.
    ("/api/v1/dispatches?status=draft", True),
])
def test_only_views_that_declare_it_plan_a_filter_alike(ministry: Any, client_for: Any, monkeypatch: Any, url: str,
                                                        with_values: bool) -> None:
    from django.test import Client

    from chancery.accounts.services import issue_api_token
    from chancery.correspondence import selectors as correspondence
    from chancery.planning import selectors as planning

    module: ModuleType
    if url.startswith("/api"):
        token = issue_api_token(user=ministry.users["plan.sg4"], name="test", lifetime_days=1)
        client = Client(headers={"Authorization": f"Bearer {token}"})
        module, selector = correspondence, "dispatch_api_list"
    else:
        client, module, selector = client_for("plan.sg4"), planning, "programme_list"
    seen = _planned_with_values_in(client, url, monkeypatch, module, selector)
    assert seen and set(seen) == {with_values}  # the programme list reads twice (its missions, its rows)
