"""The JSON API: token authentication, JSON errors, units and agents, the OpenAPI document."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chancery.accounts.models import ApiToken, User
from chancery.accounts.services import issue_api_token
from chancery.organisation.models import Unit

pytestmark = pytest.mark.django_db


def _api(token: str | None = None, header: str | None = None) -> Client:
    if header is not None:
        return Client(HTTP_AUTHORIZATION=header)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}") if token else Client()


def _assert_unauthenticated(response) -> None:
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "unauthenticated" and body["message"]


def test_no_token_gives_401_json(ministry):
    for path in ("/api/v1/units", "/api/v1/users", "/api/v1/units/DAKAR", "/api/v1/users/clerk.dakar"):
        _assert_unauthenticated(_api().get(path))


def test_a_signed_in_browser_session_is_not_an_api_credential(client_for):
    _assert_unauthenticated(client_for("clerk.dakar").get("/api/v1/units"))


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer not-a-token",
        "Bearer chy_",
        "Bearer chy_" + "A" * 43,
        "Bearer chy_" + "A" * 5000,
        "Token chy_abc",
        "Basic Y2xlcms6cGFzc3dvcmQ=",
        "chy_abc",
        "Bearer chy_abc\x00",
    ],
)
def test_malformed_or_unknown_tokens_give_401_json(ministry, header):
    _assert_unauthenticated(_api(header=header).get("/api/v1/units"))


def test_revoked_expired_and_deactivated_tokens_give_401(ministry):
    clerk = ministry.users["clerk.dakar"]
    revoked = issue_api_token(user=clerk, name="revoked")
    ApiToken.objects.filter(name="revoked").update(revoked_at=timezone.now())
    expired = issue_api_token(user=clerk, name="expired")
    ApiToken.objects.filter(name="expired").update(expires_at=timezone.now() - timedelta(seconds=1))
    for token in (revoked, expired):
        _assert_unauthenticated(_api(token).get("/api/v1/units"))
    valid = issue_api_token(user=clerk, name="valid")
    assert _api(valid).get("/api/v1/units").status_code == 200
    User.objects.unrestricted("test").filter(pk=clerk.pk).update(is_active=False)
    _assert_unauthenticated(_api(valid).get("/api/v1/units"))


def test_only_the_hash_of_a_token_is_stored(ministry):
    token = issue_api_token(user=ministry.users["clerk.dakar"])
    row = ApiToken.objects.get()
    assert token not in (row.token_hash, row.prefix) and row.token_hash == ApiToken.hash_token(token)


def test_a_valid_token_lists_units_and_users(ministry):
    client = _api(issue_api_token(user=ministry.users["clerk.dakar"]))
    units = client.get("/api/v1/units", {"limit": 1000}).json()
    assert units["count"] == Unit.objects.unrestricted("test").count()
    dakar = next(u for u in units["items"] if u["code"] == "DAKAR")
    assert dakar["kind"] == "mission" and dakar["country"] == "SN" and dakar["parent"] == "RAFR"
    assert dakar["hq_desk"] == "DAB/1"
    assert [u["code"] for u in client.get("/api/v1/units", {"q": "dakar"}).json()["items"]] == ["DAKAR"]
    assert client.get("/api/v1/units/DAB/1").json()["code"] == "DAB/1"
    users = client.get("/api/v1/users", {"limit": 1000}).json()
    assert users["count"] == User.objects.unrestricted("test").filter(is_active=True).count()
    assert set(users["items"][0]) == {"id", "username", "first_name", "last_name"}  # no clearance, no e-mail
    detail = client.get("/api/v1/users/hom.dakar").json()
    assert [(m["unit"], m["role"]) for m in detail["memberships"]] == [("DAKAR", "head_of_mission")]


def test_missing_objects_give_404_json(ministry):
    client = _api(issue_api_token(user=ministry.users["clerk.dakar"]))
    for path in ("/api/v1/units/ZZ/999", "/api/v1/users/nobody-at-all", "/api/v1/nothing-here"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_bad_query_parameters_give_422_json(ministry):
    client = _api(issue_api_token(user=ministry.users["clerk.dakar"]))
    response = client.get("/api/v1/units", {"limit": "many"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid"


def test_the_openapi_document_lists_the_unit_and_user_paths():
    response = Client().get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in ("/api/v1/units", "/api/v1/units/{code}", "/api/v1/users", "/api/v1/users/{username}"):
        assert path in paths and "get" in paths[path], path
    schemes = document["components"]["securitySchemes"]
    assert any(s.get("scheme") == "bearer" for s in schemes.values())
    assert all(op["get"].get("security") for op in (paths["/api/v1/units"], paths["/api/v1/users"]))
