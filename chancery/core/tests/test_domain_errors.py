"""Domain errors are mapped once per interface: JSON in the API, 404 or a message on the web."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.test import RequestFactory

from chancery.core import errors
from chancery.core.middleware import DomainErrorMiddleware
from chancery.correspondence import services as correspondence
from chancery.planning import services as planning


def _request(method: str = "post", referer: str = "") -> Any:
    request = getattr(RequestFactory(), method)("/planning/7/submit/", HTTP_REFERER=referer)
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def test_every_app_raises_the_core_errors() -> None:
    assert issubclass(correspondence.NotAllowed, errors.NotAllowed)
    assert issubclass(correspondence.InvalidState, errors.InvalidState)
    assert issubclass(correspondence.DraftConflict, errors.Conflict)
    assert issubclass(planning.WorkflowError, errors.InvalidState)
    assert issubclass(planning.ActionConflict, errors.Conflict)


@pytest.mark.django_db
def test_a_refused_act_on_the_web_is_a_missing_page() -> None:
    middleware = DomainErrorMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    response = middleware.process_exception(_request(), errors.NotAllowed("no"))
    assert response is not None and response.status_code == 404


def test_a_step_that_no_longer_applies_comes_back_with_the_reason() -> None:
    middleware = DomainErrorMiddleware(lambda request: None)  # type: ignore[arg-type, return-value]
    request = _request(referer="http://testserver/planning/7/")
    response = middleware.process_exception(request, planning.WorkflowError("Only a draft can be submitted."))
    assert response is not None and response.status_code == 302 and response["Location"] == "http://testserver/planning/7/"
    assert [str(m) for m in get_messages(request)] == ["Only a draft can be submitted."]
    # A referrer from elsewhere is not followed.
    request = _request(referer="https://evil.example/")
    response = middleware.process_exception(request, errors.Conflict("changed meanwhile"))
    assert response is not None and response["Location"] == "/"


@pytest.mark.django_db
def test_the_api_answers_each_with_its_stable_code(ministry: Any) -> None:
    from django.test import Client

    from chancery.accounts.services import issue_api_token
    from chancery.planning.demo import sample_programme

    programme = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=ministry.users["counsellor.dakar"])
    api = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=ministry.users['plan.sg4'])}")
    response = api.post(f"/api/v1/programmes/{programme.pk}/approve", "{}", content_type="application/json")
    assert response.status_code == 409 and response.json()["code"] == "invalid_state", response.content
