"""The API under generated input (schemathesis): whatever is sent, never a 5xx.

Every operation of /api/v1/openapi.json is called with data generated from its schema (valid
and invalid: huge numbers, far dates, odd Unicode, missing fields), as two roles with different
scopes: a mission counsellor and a headquarters desk officer. Bounded in examples per operation
so that the whole walk stays well under two minutes on a 2-core machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from chancery.accounts.services import issue_api_token

ROLES = ["counsellor.dakar", "desk.dab1"]
EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_schema(db: None) -> Iterator[Any]:
    """The schema, called through the real WSGI application inside the test's transaction.

    As Django's test client does, the end of each request must not close the database
    connection (it holds the test's transaction)."""
    from django.core.signals import request_finished, request_started
    from django.core.wsgi import get_wsgi_application
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(ministry: Any) -> dict[str, str]:
    return {name: issue_api_token(user=ministry.users[name]) for name in ROLES}


def test_no_input_gives_a_server_error(api_schema: Any, tokens: dict[str, str]) -> None:
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def call(case: Any) -> None:
            for role in ROLES:
                response = case.call(headers={"Authorization": f"Bearer {tokens[role]}"})
                if response.status_code >= 500:
                    failures.append(f"{role}: {case.method} {case.formatted_path} {case.query or ''} "
                                    f"{str(case.body)[:200]} -> {response.status_code}")

        call()
    assert operations >= 40, "the schema lists fewer operations than the API has"
    assert not failures, "\n".join(failures[:30])
