"""Any input gives a 4xx with a clear message, never a 500 (attack findings).

Numbers beyond 64 bits in `limit`, `offset`, filters and ids; impossible years; lone surrogates
and NUL characters in JSON and query strings.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chancery.accounts.services import issue_api_token

pytestmark = pytest.mark.django_db

BIG = str(2**64)


@pytest.fixture
def api(ministry: Any) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=ministry.users['counsellor.dakar'])}")


@pytest.mark.parametrize("url", [
    f"/api/v1/actions?limit={BIG}", f"/api/v1/actions?offset={BIG}", f"/api/v1/dispatches?offset={BIG}",
    f"/api/v1/units?limit={BIG}", f"/api/v1/actions?programme={BIG}", f"/api/v1/actions?lead={BIG}",
    "/api/v1/achievements?year=-1", f"/api/v1/achievements?year={BIG}", "/api/v1/programmes?year=99999",
    "/api/v1/actions?limit=100000", "/api/v1/units?limit=1001", "/api/v1/actions?axis=a%00b",
])
def test_out_of_range_query_values_answer_422(api: Client, url: str) -> None:
    response = api.get(url)
    assert response.status_code == 422, (url, response.status_code)
    assert response.json()["code"] == "invalid" and response.json()["message"]


@pytest.mark.parametrize(("url", "body"), [
    ("/api/v1/programmes", '{"mission": "DAKAR", "year": 2030, "title": "\\ud800"}'),
    ("/api/v1/dispatches", '{"subject": "\\udc00x", "sending_unit": "DAKAR"}'),
    ("/api/v1/dispatches", '{"subject": "x", "sending_unit": "DAKAR", "tags": ["a\\u0000b"]}'),
    ("/api/v1/actions", '{"programme": ' + BIG + ', "axis": 1, "title": "x"}'),
    ("/api/v1/programmes", '{"mission": "DAKAR", "year": -1}'),
    ("/api/v1/dispatches", '{"subject": "x"}'),
])
def test_bad_json_answers_4xx_and_saves_nothing(api: Client, url: str, body: str) -> None:
    from chancery.correspondence.models import Dispatch
    from chancery.planning.models import Programme

    before = (Dispatch.objects.unrestricted("test").count(), Programme.objects.unrestricted("test").count())
    response = api.post(url, body, content_type="application/json")
    assert 400 <= response.status_code < 500, (body, response.status_code, response.content)
    assert response.json()["message"]
    assert (Dispatch.objects.unrestricted("test").count(), Programme.objects.unrestricted("test").count()) == before


@pytest.mark.parametrize("url", ["/planning/?q=a%00b", "/organisation/people/?q=%00", "/correspondence/inbox/?q=x%00"])
def test_a_nul_character_in_a_page_query_answers_400(client_for: Any, url: str) -> None:
    assert client_for("counsellor.dakar").get(url).status_code == 400
