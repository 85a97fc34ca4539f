"""The API's dispatch and inbox lists answer, row for row and field for field, what Django
Ninja's validation of the same objects gives (their rows are read by `core.plain_rows`, which
skips that validation)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from ninja.responses import NinjaJSONEncoder

from chancery.accounts.services import issue_api_token
from chancery.correspondence import selectors
from chancery.correspondence.api import DispatchOut, InboxItemOut
from chancery.correspondence.demo import write_correspondence

pytestmark = pytest.mark.django_db

READERS = ["desk.dab1", "counsellor.dakar", "director.dab", "clerk.sgbo", "security", "sg"]


@pytest.fixture
def letters(ministry: Any) -> Any:
    write_correspondence(units=ministry.units, users=ministry.users, count=300, seed=11, days=30)
    return ministry


def _validated(schema: Any, objects: Any) -> list[dict[str, Any]]:
    """What Ninja answers for `objects`: each validated by `schema`, dumped, through its JSON encoder."""
    return json.loads(json.dumps([schema.from_orm(o).model_dump() for o in objects], cls=NinjaJSONEncoder))


def test_api_lists_answer_what_validation_gives(letters: Any) -> None:
    kinds = ["compartments", "tags", "in_reply_to", "assigned_to", "read_at", "external_reference", "sender_name",
             "reference", "sent_at_null"]  # fmt: skip
    seen = dict.fromkeys(kinds, 0)
    for username in READERS:
        user = letters.users[username]
        client = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
        sent = client.get("/api/v1/dispatches?limit=100").json()["items"]
        expected = _validated(DispatchOut, selectors.dispatch_api_rows(selectors.search_dispatches(user, {}))[:100])
        assert sent == expected, username
        inbox = client.get("/api/v1/inbox?limit=100").json()["items"]
        expected = _validated(InboxItemOut, selectors.inbox_api_rows(selectors.inbox(user))[:100])
        assert inbox == expected, username
        for row in sent + [item["dispatch"] for item in inbox]:
            seen["compartments"] += bool(row["compartments"])
            seen["tags"] += bool(row["tags"])
            seen["in_reply_to"] += row["in_reply_to"] is not None
            seen["external_reference"] += bool(row["external_reference"])
            seen["sender_name"] += bool(row["sender_name"])
            seen["reference"] += row["reference"] is not None
            seen["sent_at_null"] += row["sent_at"] is None
        for item in inbox:
            seen["assigned_to"] += item["routing"]["assigned_to"] is not None
            seen["read_at"] += item["routing"]["read_at"] is not None
    # The comparison covered every kind of value the rows carry, not only empty ones.
    assert all(seen.values()), seen
