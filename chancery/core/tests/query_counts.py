"""Query-count guard shared by every app's `test_query_counts.py`.

A list page must cost the same number of SQL queries whether it shows one row or a full
page: a query per row (an N+1) is what makes a page slow at a million dispatches long before
the database itself is. Each app declares its lists as `ListPage` rows (who reads, which URL,
how many rows that reader's list holds); `check_lists` renders every one with few rows, lets
the app seed many more, renders again and compares the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

if TYPE_CHECKING:
    from chancery.accounts.models import User

MANY = 50  # a full page of the correspondence lists


@dataclass(frozen=True)
class ListPage:
    username: str
    url: str | Callable[[Any], str]  # a callable receives the reading user (detail pages)
    rows: Callable[[Any], int]  # how many rows the reader's list holds (through the selectors)
    api: bool = False  # signed in by API token rather than by session

    def label(self) -> str:
        return f"{self.username} {self.url if isinstance(self.url, str) else self.url.__name__}"


def _client(page: ListPage, user: User) -> Client:
    if page.api:
        from chancery.accounts.services import issue_api_token

        return Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=user)}")
    from conftest import sign_in

    return sign_in(Client(), user)


def _measure(pages: Sequence[ListPage], ministry: Any) -> dict[str, tuple[int, int]]:
    """label -> (rows, queries) for each page, after one warm-up request (per-process caches)."""
    result = {}
    for page in pages:
        user = ministry.users[page.username]
        user.forget_cached_rights()
        client = _client(page, user)
        url = page.url if isinstance(page.url, str) else page.url(user)
        assert client.get(url).status_code == 200, url
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        assert response.status_code == 200, url
        result[page.label()] = (page.rows(user), len(ctx.captured_queries))
    return result


def check_lists(pages: Sequence[ListPage], ministry: Any, *, seed_few: Callable[[], None],
                seed_many: Callable[[], None]) -> None:
    """Every page costs as many queries with a handful of rows as with a full page of them."""
    seed_few()
    few = _measure(pages, ministry)
    seed_many()
    many = _measure(pages, ministry)
    for label, (rows, _queries) in few.items():
        assert 1 <= rows < many[label][0], f"{label}: seeding gave {rows} then {many[label][0]} rows"
        assert many[label][0] >= MANY, f"{label}: only {many[label][0]} rows after seeding many"
    grown = [
        f"{label}: {rows} rows {queries} queries, then {many[label][0]} rows {many[label][1]} queries"
        for label, (rows, queries) in few.items()
        if many[label][1] != queries
    ]
    assert not grown, "query count depends on the rows shown:\n" + "\n".join(grown)
