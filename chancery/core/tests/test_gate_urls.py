"""Walks every URL of the site and the API, for every role, to prove the permission gate holds.

- Anonymous visitors are sent to the sign-in page (HTML) or get 401 (API), except on the
  few public views listed here.
- Every view runs with the gate enforced: a view that reads a protected queryset without
  `visible_to(user)` raises GateBypassError, which fails this test.
- For every URL taking an object id, each role gets 404 for objects outside its scope,
  whether the object exists or not.

A new URL whose parameter is not in URL_PARAMETER_MODELS fails the test until it is added,
so that no view escapes the walk.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from chancery.accounts.services import issue_api_token
from conftest import sign_in

# Views anyone may reach without signing in (by URL name).
PUBLIC_VIEWS = {
    "accounts:login", "accounts:second_factor", "accounts:enrol", "set_language", "core:health",
    "api:openapi-json", "api:api-root",
    # Published on purpose: public signing keys, so that recipients outside the ministry can check signatures.
    "organisation:unit_keys", "api:list_unit_keys",
}

# URL parameter name → (model label, field the parameter carries). Parameters naming the
# same object in a nested URL are filled consistently from that object.
URL_PARAMETER_MODELS: dict[str, tuple[str, str]] = {
    "code": ("organisation.Unit", "code"),
    "username": ("accounts.User", "username"),
    "unit_code": ("organisation.Unit", "code"),
    "user_id": ("accounts.User", "pk"),
    "unit_id": ("organisation.Unit", "pk"),
    "membership_id": ("accounts.Membership", "pk"),
    "dispatch_id": ("correspondence.Dispatch", "pk"),
    "pk": ("correspondence.Dispatch", "pk"),
    "id": ("correspondence.Dispatch", "pk"),
    "n": ("correspondence.Attachment", "position"),
    "position": ("correspondence.Attachment", "position"),
    "attachment_id": ("correspondence.Attachment", "pk"),
    "routing_id": ("correspondence.Routing", "pk"),
    "notification_id": ("notifications.Notification", "pk"),
    "programme_id": ("planning.Programme", "pk"),
    "axis_id": ("planning.Axis", "pk"),
    "objective_id": ("planning.Objective", "pk"),
    "action_id": ("planning.Action", "pk"),
    "indicator_id": ("planning.Indicator", "pk"),
    "measurement_id": ("planning.Measurement", "pk"),
    "achievement_id": ("planning.Achievement", "pk"),
    "evidence_id": ("planning.AchievementEvidence", "pk"),
    "file_id": ("planning.EvidenceFile", "pk"),
    "comment_id": ("planning.ProgrammeComment", "pk"),
    "version_id": ("planning.ProgrammeVersion", "pk"),
    "period_id": ("planning.ReportingPeriod", "pk"),
    "number": ("planning.ProgrammeVersion", "number"),
    "other": ("planning.ProgrammeVersion", "number"),
    "import_id": ("imports.LetterImport", "pk"),
    "batch_id": ("imports.ImportBatch", "pk"),
    "absence_id": ("accounts.Absence", "pk"),
    "template_id": ("correspondence.ReplyTemplate", "pk"),
}

ROLE_USERS = [
    "hom.dakar", "counsellor.dakar", "clerk.dakar", "clerk.sgbo", "desk.dab1", "head.dab1", "director.dab",
    "plan.sg4", "inspect.sg5", "security", "auditor", "admin.dsi", "hom.lima", "sg",
]

# A parameter value that matches no object of any kind.
MISSING = {"pk": 987654321, "code": "ZZ/999", "username": "nobody-at-all", "position": 999, "number": 999}


@dataclass(frozen=True)
class Route:
    name: str
    regex: str
    parameters: tuple[str, ...]
    is_api: bool


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = f"{namespace}:{entry.namespace}".strip(":") if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern.regex.pattern).lstrip("^").rstrip("$"), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}".strip(":") if entry.name else ""
            yield name, prefix + str(entry.pattern.regex.pattern).lstrip("^").rstrip("$"), entry


def routes() -> list[Route]:
    found = []
    for name, regex, _pattern in _walk(get_resolver().url_patterns):
        if regex.startswith("superadmin/") or regex.startswith("static/"):
            continue  # the Django admin (super-administrators) has its own permission system
        parameters = tuple(re.findall(r"\(\?P<(\w+)>", regex))
        found.append(Route(name or regex, regex, parameters, regex.startswith("api/")))
    return found


def _fill(regex: str, values: dict[str, Any]) -> str:
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(values[m.group(1)]), regex)
    path = path.replace("\\Z", "").replace("\\", "")
    return "/" + path


def _model(label: str) -> Any | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def _value(obj: Any, field: str) -> Any:
    return getattr(obj, field)


def _objects_outside_scope(model: Any, user: Any) -> Any:
    queryset = model._default_manager.all()
    if not hasattr(queryset, "visible_to"):
        # A child model (e.g. an attachment) scoped through its parent: handled by the parent.
        return model._default_manager.none()
    visible = model._default_manager.visible_to(user).values("pk")
    return queryset.unrestricted("gate test").exclude(pk__in=visible)


ALL_ROUTES = routes()


def test_every_url_parameter_is_known() -> None:
    unknown = sorted({(r.name, p) for r in ALL_ROUTES for p in r.parameters if p not in URL_PARAMETER_MODELS})
    assert not unknown, f"add these URL parameters to URL_PARAMETER_MODELS so the gate walk covers them: {unknown}"


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ALL_ROUTES if r.name not in PUBLIC_VIEWS], ids=lambda r: r.name)
def test_anonymous_visitors_are_turned_away(route: Route) -> None:
    values = {p: MISSING[URL_PARAMETER_MODELS.get(p, ("", "pk"))[1]] for p in route.parameters}
    client = Client(raise_request_exception=True)
    for method in ("get", "post"):
        response = getattr(client, method)(_fill(route.regex, values))
        if route.is_api:
            assert response.status_code in {401, 405}, f"{method.upper()} {route.name}: {response.status_code}"
        else:
            assert response.status_code in {302, 405}, f"{method.upper()} {route.name}: {response.status_code}"
            if response.status_code == 302:
                assert "/accounts/login/" in response["Location"]


def _client(user: Any, api: bool) -> Client:
    if api:
        return Client(raise_request_exception=True, HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    return sign_in(Client(raise_request_exception=True), user)


@pytest.mark.django_db
@pytest.mark.parametrize("username", ROLE_USERS)
def test_every_view_goes_through_the_gate_for_every_role(ministry: Any, username: str) -> None:
    """Each route, with parameters pointing at objects in and out of the role's scope."""
    user = ministry.users[username]
    html, api = _client(user, api=False), _client(user, api=True)
    checked = 0
    for route in ALL_ROUTES:
        client = api if route.is_api else html
        if not route.parameters:
            response = client.get(_fill(route.regex, {}))
            assert response.status_code < 500, f"GET {route.name} as {username}: {response.status_code}"
            continue
        labels = {URL_PARAMETER_MODELS[p][0] for p in route.parameters}
        # Out of scope (existing objects the role may not see) and missing objects: 404.
        for label in labels:
            model = _model(label)
            if model is None:
                continue
            hidden = _objects_outside_scope(model, user).first()
            candidates = [MISSING] + ([hidden] if hidden is not None else [])
            for target in candidates:
                values = {}
                for parameter in route.parameters:
                    p_label, field = URL_PARAMETER_MODELS[parameter]
                    if target is MISSING or p_label != label:
                        values[parameter] = MISSING[field]
                    else:
                        values[parameter] = _value(target, field)
                path = _fill(route.regex, values)
                response = client.get(path)
                assert response.status_code in {404, 405}, f"GET {path} as {username}: {response.status_code}"
                response = client.post(path)
                # The API parses the request body before looking the object up: a malformed body
                # gets the same 400/422 whether the object exists or not, which reveals nothing.
                allowed = {400, 404, 405, 422} if route.is_api else {404, 405}
                assert response.status_code in allowed, f"POST {path} as {username}: {response.status_code}"
                checked += 1
    assert checked > 0
