"""`Literal`: constants written into a statement's text, and only constants that need no escaping."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.db import connection

from chancery.core.classification import Level
from chancery.core.db import Literal
from chancery.correspondence.models import DispatchStatus


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 4, 10, 0),  # a moment, not a date
        True,
        "sent'; DROP TABLE correspondence_dispatch; --",
        "two words",
        "",
        "x" * 65,
        1.5,
        None,
    ],
)
def test_refuses_what_is_not_a_plain_constant(value):
    with pytest.raises(ValueError):
        Literal(value)


def _sql(expression: Literal) -> str:
    from django.db.models.sql import Query

    from chancery.correspondence.models import Dispatch

    compiler = Query(Dispatch).get_compiler(connection=connection)
    sql, params = expression.as_sql(compiler, connection)
    assert params == ()
    return sql


def test_writes_dates_numbers_and_code_words_out():
    date_sql = _sql(Literal(date(2026, 12, 4)))
    assert date_sql == ("DATE '2026-12-04'" if connection.vendor == "postgresql" else "'2026-12-04'")
    assert _sql(Literal(date.min)).endswith("'0001-01-01'")
    assert _sql(Literal(Level.SECRET)) == str(int(Level.SECRET))
    assert _sql(Literal(DispatchStatus.SENT)) == "'sent'"


@pytest.mark.django_db
def test_a_filter_with_literals_keeps_the_same_rows(ministry):
    """The gate's clearance and the review range, written out, select what the parameters did."""
    from chancery.correspondence.models import Dispatch
    from chancery.correspondence.tests.views_helpers import build_world

    build_world(ministry)  # drafts and sent dispatches at every level
    rows = Dispatch.objects.unrestricted("test: literal and parameter filters compared")
    assert rows.exclude(status__in=[DispatchStatus.SENT, DispatchStatus.CLOSED]).exists()
    for level in Level:
        assert set(rows.filter(classification__lte=Literal(level)).values_list("pk", flat=True)) == set(
            rows.filter(classification__lte=level).values_list("pk", flat=True)
        )
    today = date.today()
    written = rows.filter(
        status__in=[Literal(DispatchStatus.SENT), Literal(DispatchStatus.CLOSED)],
        dated__range=(Literal(date.min), Literal(today)),
    )
    bound = rows.filter(status__in=[DispatchStatus.SENT, DispatchStatus.CLOSED], dated__range=(date.min, today))
    assert written.count() == bound.count() > 0
    sql, params = written.values("pk").query.sql_with_params()
    assert "'sent'" in sql and "'closed'" in sql and "0001-01-01" in sql and today.isoformat() in sql
    assert today not in params and DispatchStatus.SENT not in params  # written out, not bound
