"""The auditor's pages: gated, filtered, paged, exported; no way to change an entry."""

from __future__ import annotations

import csv
import io

import pytest

from chancery.audit.models import AuditEvent
from chancery.audit.services import record_event

pytestmark = pytest.mark.django_db


def test_only_auditors_and_superusers_find_the_log(client_for):
    assert client_for("auditor").get("/audit/").status_code == 200
    assert client_for("admin").get("/audit/").status_code == 200
    for username in ("counsellor.dakar", "hom.dakar", "desk.dab1", "security"):
        assert client_for(username).get("/audit/").status_code == 404
        assert client_for(username).get("/audit/export.csv").status_code == 404


def test_the_log_filters_and_pages_by_sequence(client_for, ministry):
    for i in range(60):
        record_event(action="test.paging", object_type="test", object_id=i)
    client = client_for("auditor")
    first = client.get("/audit/", {"action": "test.paging"})
    shown = first.context["events"]
    assert len(shown) == 50 and all(e.action == "test.paging" for e in shown)
    assert [e.sequence for e in shown] == sorted((e.sequence for e in shown), reverse=True)
    second = client.get("/audit/", {"action": "test.paging", "before": first.context["following"]})
    rest = second.context["events"]
    assert len(rest) == 10 and second.context["following"] is None
    assert max(e.sequence for e in rest) < min(e.sequence for e in shown)
    assert client.get("/audit/", {"action": "test.paging", "object_id": "7"}).context["events"][0].object_id == "7"


def test_bad_filters_are_explained_not_fatal(client_for):
    response = client_for("auditor").get("/audit/", {"since": "2026-05-02", "until": "2026-05-01", "before": "x"})
    assert response.status_code == 200
    assert "The start date is after the end date." in response.content.decode()


def test_the_export_is_the_filtered_log_and_is_itself_audited(client_for, ministry):
    record_event(action="accounts.login", actor=ministry.users["hom.dakar"])
    client = client_for("auditor")
    response = client.get("/audit/export.csv", {"action": "accounts.login"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    expected = AuditEvent.objects.unrestricted("test").filter(action="accounts.login").count()
    assert len(rows) == expected and expected > 0 and {r["action"] for r in rows} == {"accounts.login"}
    last = AuditEvent.objects.unrestricted("test").order_by("-sequence")[0]
    assert last.action == "audit.exported" and last.actor_label == "auditor"
    assert last.details == {"action": "accounts.login"}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_no_request_changes_an_entry(client_for, method):
    client = client_for("admin")
    before = list(AuditEvent.objects.unrestricted("test").values_list("sequence", "hash"))
    for url in ("/audit/", "/audit/export.csv"):
        assert getattr(client, method)(url).status_code in (404, 405)
    after = list(AuditEvent.objects.unrestricted("test").values_list("sequence", "hash"))
    assert after[: len(before)] == before
