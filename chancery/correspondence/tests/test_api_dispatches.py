"""The correspondence API through the permission gate, for every demo role."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client, override_settings

from chancery.accounts.services import issue_api_token
from chancery.audit.models import AuditEvent
from chancery.correspondence.tests.domain_helpers import PDF, sent

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db

# role → (sees the dispatch, inbox total for it)
ROLES = {
    "counsellor.dakar": (True, 0),  # sending unit
    "hom.dakar": (True, 0),
    "clerk.dakar": (True, 0),
    "desk.dab1": (True, 1),  # attribution
    "head.dab1": (True, 1),
    "director.dab": (True, 0),  # oversight of DAB/1
    "head.dg71": (True, 1),  # information copy
    "desk.dab2": (False, 0),
    "hom.lima": (False, 0),
    "counsellor.lima": (False, 0),
    "clerk.sgbo": (False, 0),
    "plan.sg4": (False, 0),
    "inspect.sg5": (False, 0),
    "security": (False, 0),
    "auditor": (False, 0),
    "admin.dsi": (False, 0),
    "sg": (False, 0),
}


def api(user: User) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")


@pytest.fixture
def protected(ministry: Any) -> Any:
    return sent(
        ministry,
        classification=1,
        subject="Semaine culturelle : bilan",
        routings=[("DAB/1", "action"), ("DG7/1", "info")],
        attachments=[("bilan.pdf", PDF)],
        tags=["SN", "CULT"],
    )


@pytest.mark.parametrize("username", sorted(ROLES))
def test_gate_for_every_role(ministry: Any, protected: Any, username: str) -> None:
    sees, inbox_total = ROLES[username]
    client = api(ministry.users[username])
    detail = client.get(f"/api/v1/dispatches/{protected.pk}")
    download = client.get(f"/api/v1/dispatches/{protected.pk}/attachments/1")
    listing = client.get("/api/v1/dispatches", {"tag": "SN"}).json()
    counts = client.get("/api/v1/inbox/counts").json()
    ack = client.post(f"/api/v1/dispatches/{protected.pk}/acknowledge", {}, content_type="application/json")
    if sees:
        assert detail.status_code == 200
        assert detail.json()["subject"] == "Semaine culturelle : bilan"
        assert download.status_code == 200 and download.content == PDF
        assert [d["id"] for d in listing["items"]] == [protected.pk] and listing["count"] == 1
    else:
        assert detail.status_code == 404 and detail.json()["code"] == "not_found"
        assert download.status_code == 404
        assert listing == {"items": [], "count": 0}
        assert ack.status_code == 404
    assert counts["total"] == inbox_total
    missing = client.get("/api/v1/dispatches/987654321")
    assert missing.status_code == 404 and missing.json() == detail.json() if not sees else True


def test_protected_reads_are_audited(ministry: Any, protected: Any) -> None:
    client = api(ministry.users["desk.dab1"])
    before = AuditEvent.objects.filter(action="correspondence.read", object_id=str(protected.pk)).count()
    assert client.get(f"/api/v1/dispatches/{protected.pk}").status_code == 200
    assert client.get(f"/api/v1/dispatches/{protected.pk}/attachments/1").status_code == 200
    events = AuditEvent.objects.filter(action="correspondence.read", object_id=str(protected.pk)).order_by("sequence")
    assert events.count() == before + 2
    assert [e.details["what"] for e in events][-2:] == ["detail", "attachment"]
    assert all("Semaine" not in str(e.details) for e in events)


def test_lifecycle_through_the_api(ministry: Any) -> None:
    u = ministry.users
    author, head, desk = api(u["counsellor.dakar"]), api(u["hom.dakar"]), api(u["desk.dab1"])
    created = author.post(
        "/api/v1/dispatches",
        {
            "sending_unit": "DAKAR",
            "subject": "Préparation de la visite",
            "body": "<p>Programme</p>",
            "classification": "restricted",
            "routings": [{"unit": "DAB/1", "kind": "action", "due_date": "2099-01-31"}],
            "tags": ["sn"],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    draft = created.json()
    assert draft["status"] == "draft" and draft["classification"] == "restricted" and draft["tags"] == ["SN"]
    pk = draft["id"]

    upload = author.post(f"/api/v1/dispatches/{pk}/attachments", {"file": _file("programme.pdf", PDF)})
    assert upload.status_code == 201 and upload.json()["n"] == 1
    bad = author.post(f"/api/v1/dispatches/{pk}/attachments", {"file": _file("image.png", PDF)})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid" and "file" in bad.json()["errors"]
    with override_settings(CHANCERY_MAX_ATTACHMENT_BYTES=10):
        big = author.post(f"/api/v1/dispatches/{pk}/attachments", {"file": _file("big.pdf", PDF)})
    assert big.status_code == 413 and big.json()["code"] == "too_large"

    patched = author.patch(
        f"/api/v1/dispatches/{pk}", {"version": 1, "subject": "Visite : programme"}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["version"] == 2
    stale = head.patch(f"/api/v1/dispatches/{pk}", {"version": 1, "subject": "Autre"}, content_type="application/json")
    assert stale.status_code == 409 and stale.json()["code"] == "version_conflict"
    assert stale.json()["current_version"] == 2

    assert author.post(f"/api/v1/dispatches/{pk}/send").status_code == 403
    first = head.post(f"/api/v1/dispatches/{pk}/send")
    second = head.post(f"/api/v1/dispatches/{pk}/send")
    assert first.status_code == 200 and first.json()["reference"] == second.json()["reference"]
    assert first.json()["reference"].startswith("DAKAR/")
    assert (
        author.patch(
            f"/api/v1/dispatches/{pk}", {"version": 3, "subject": "x"}, content_type="application/json"
        ).status_code
        == 409
    )

    ack = desk.post(f"/api/v1/dispatches/{pk}/acknowledge", {"unit": "DAB/1"}, content_type="application/json")
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    reply = desk.post(f"/api/v1/dispatches/{pk}/reply", {"body": "<p>Bien reçu</p>"}, content_type="application/json")
    assert reply.status_code == 201
    body = reply.json()
    assert body["in_reply_to"] == pk and body["classification"] == "restricted"
    assert body["citations"] == [{"id": pk, "reference": first.json()["reference"], "external_reference": ""}]
    low = desk.post(f"/api/v1/dispatches/{pk}/reply", {"classification": 0}, content_type="application/json")
    assert low.status_code == 422 and "classification" in low.json()["errors"]

    listing = api(u["director.dab"]).get(
        "/api/v1/dispatches", {"direction": "outgoing", "classification": "restricted"}
    )
    assert pk in [d["id"] for d in listing.json()["items"]]
    assert api(u["director.dab"]).get("/api/v1/dispatches", {"classification": "secret"}).json()["count"] == 0


def test_field_errors(ministry: Any) -> None:
    client = api(ministry.users["counsellor.dakar"])
    response = client.post(
        "/api/v1/dispatches",
        {"sending_unit": "DAKAR", "subject": " ", "routings": [{"unit": "XX/99"}], "cites": ["DAKAR/1990/0001"]},
        content_type="application/json",
    )
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert set(errors) == {"subject", "routings", "cites"}
    unknown = client.post(
        "/api/v1/dispatches", {"sending_unit": "NOWHERE", "subject": "x"}, content_type="application/json"
    ).json()["errors"]
    assert list(unknown) == ["sending_unit"] and "NOWHERE" in unknown["sending_unit"][0]
    forbidden = client.post(
        "/api/v1/dispatches", {"sending_unit": "LIMA", "subject": "x"}, content_type="application/json"
    )
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"


def test_openapi_lists_the_endpoints(ministry: Any) -> None:
    paths = Client().get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/dispatches",
        "/api/v1/dispatches/{id}",
        "/api/v1/dispatches/{id}/send",
        "/api/v1/dispatches/{id}/acknowledge",
        "/api/v1/dispatches/{id}/reply",
        "/api/v1/dispatches/{id}/attachments",
        "/api/v1/dispatches/{id}/attachments/{n}",
    ):
        assert path in paths, path


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="application/octet-stream")
