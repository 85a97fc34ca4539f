"""The dispatches' substring index (`substring_index`), where the lists' word filter finds its
candidates: it follows every way a dispatch is written, is repaired when a migration drops its
triggers, never misses a dispatch the filter's own test would find, and on PostgreSQL is the very
expression the filter writes. (That the lists it narrows give the gate's rows: `test_domain_gate`,
"whichever way".)"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chancery.correspondence import substring_index
from chancery.correspondence.checks import check_substring_index
from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import draft, sent

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the FTS5 table and its triggers are SQLite's")


def _found(text: str) -> set[int]:
    """The rows the word filter finds for `text` as a list starts from the index's candidates;
    tested on the walk instead (SQLite) or left to the planner (PostgreSQL), the same rows."""

    def rows(few: int) -> set[int]:
        condition = substring_index.words_filter_q(text, few=few, many=10**9)
        return set(_rows().filter(condition).values_list("pk", flat=True))

    found = rows(few=10**9)
    assert rows(few=0) == found, text
    return found


def _rows() -> Any:
    return Dispatch.objects.unrestricted("test: the table itself")


def test_the_index_follows_every_write(ministry: Any) -> None:
    """Whatever writes a dispatch's indexed columns (the services, a queryset update, a save of a
    stale instance, a bulk insert, raw SQL, a delete), the index finds it by its new words and no
    longer by its old ones; a write of other columns leaves it as it was."""
    d = sent(ministry, subject="Coopération halieutique")
    assert d.pk in _found("halieut") and d.pk in _found("HALIEUTIQUE")
    _rows().filter(pk=d.pk).update(subject="Coopération portuaire")
    assert d.pk not in _found("halieut") and d.pk in _found("portuaire")
    stale = _rows().get(pk=d.pk)
    _rows().filter(pk=d.pk).update(sender_name="Ambassade du Pérou")
    assert d.pk in _found("du Pérou")
    stale.save()  # a full save writes every column back, the old sender's empty one included
    assert d.pk not in _found("du Pérou") and d.pk in _found("portuaire")
    _rows().filter(pk=d.pk).update(status="closed")  # not an indexed column
    assert d.pk in _found("portuaire")
    [bulk] = Dispatch.objects.bulk_create(
        [Dispatch(sending_unit=ministry.units["LIMA"], author=ministry.users["hom.lima"], subject="Pêche minotière",
                  external_reference="OF/2026/77", direction="incoming", status="sent")]
    )
    assert bulk.pk in _found("minotière") and bulk.pk in _found("of/2026/7")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE correspondence_dispatch SET external_reference = %s WHERE id = %s", ["NV-9", bulk.pk])
    assert bulk.pk not in _found("OF/2026") and bulk.pk in _found("NV-9")
    _rows().filter(pk=bulk.pk).delete()
    assert bulk.pk not in _found("minotière")
    other = draft(ministry, subject="Semaine du film")
    assert _found("semaine du") == {other.pk}
    assert substring_index.drift() == 0


@sqlite_only
def test_missing_parts_are_reported_and_repaired(ministry: Any) -> None:
    d = sent(ministry, subject="Salon du livre")
    assert check_substring_index(databases=["default"]) == []
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER corr_substrings_update")
        cursor.execute("DROP TRIGGER corr_substrings_insert")
    assert substring_index.missing() == ["corr_substrings_insert", "corr_substrings_update"]
    assert [e.id for e in check_substring_index(databases=["default"])] == ["correspondence.E002"]
    # as after a migration that rebuilt the table: writes meanwhile go unindexed
    _rows().filter(pk=d.pk).update(subject="Salon de la bande dessinée")
    later = sent(ministry, subject="Festival des arts")
    assert later.pk not in _found("festival")
    assert substring_index.drift() == 1
    # what `migrate` runs after every migration puts them back and rebuilds from the table
    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")
    assert substring_index.missing() == []
    assert check_substring_index(databases=["default"]) == []
    assert substring_index.drift() == 0
    assert _found("festival") == {later.pk} and _found("bande dessin") == {d.pk} and not _found("du livre")
    assert substring_index.ensure_installed() is False  # nothing to repair


def test_reverting_the_migration_removes_the_index(ministry: Any) -> None:
    """Nothing is reported missing from a database migrated back before the index: `missing`
    reads the migration's record (here: the index removed, the record kept, then restored)."""
    sent(ministry, subject="Forum économique")
    if connection.vendor == "postgresql":  # PostgreSQL builds no index over pending foreign-key checks
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    substring_index.uninstall()
    try:
        expected = [substring_index.TABLE, *substring_index._SQLITE_TRIGGERS] if connection.vendor == "sqlite" else [
            f"corr_dispatch_{column}_trgm" for column in substring_index.COLUMNS
        ]
        assert substring_index.missing() == expected
    finally:
        substring_index.install()
    assert substring_index.missing() == []
    assert len(_found("économique")) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_never_misses_what_the_filter_finds(ministry: Any, data: Any) -> None:
    """For any text cut from a dispatch's columns, in any case: every dispatch the filter's own
    test finds is among the index's candidates (on SQLite a superset: the trigrams anywhere in
    the row), so the filter started from them finds the same."""
    if not _rows().exists():
        for subject, sender in (("Réunion de la commission mixte", "Ambassade d'Égypte"),
                                ('Visite "officielle" du ministre', "Consulat général à Tanger"),
                                ("Crédits de fonctionnement 2027", "")):
            d = sent(ministry, subject=subject)
            _rows().filter(pk=d.pk).update(sender_name=sender)
    row = data.draw(st.sampled_from(list(_rows().values_list("reference", "sender_name", "subject"))))
    value = data.draw(st.sampled_from([v for v in row if v and len(v) >= 3]))
    start = data.draw(st.integers(0, len(value) - 3))
    text = value[start : data.draw(st.integers(start + 3, len(value)))]
    text = data.draw(st.sampled_from([text, text.upper(), text.lower(), text.swapcase()]))
    exact = set(_rows().filter(substring_index.words_q(text)).values_list("pk", flat=True))
    assert exact == _found(text), text
    if text.isascii():
        assert exact, text  # ASCII case folds in both engines' LIKE: the text's own row matches


@pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm is PostgreSQL's")
def test_postgresql_answers_the_candidates_from_its_trigram_indexes_and_lists_test_rows(ministry: Any) -> None:
    """The indexes are on the very expression Django's `icontains` writes: with sequential scans
    off (the demo-sized table would rather be read whole), the candidates' condition is answered
    by them; the test a list applies to the rows it walks never is (`UnindexedText`)."""
    sent(ministry, subject="Accord de jumelage")

    def plan(by_index: bool) -> str:
        rows = _rows().filter(substring_index.words_q("jumelage", by_index=by_index)).order_by().values("pk")
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())

    for column in substring_index.COLUMNS:
        assert f"Bitmap Index Scan on corr_dispatch_{column}_trgm" in plan(by_index=True), plan(by_index=True)
    assert "_trgm" not in plan(by_index=False), plan(by_index=False)
    # the same rows either way
    for text in ("JUMEL", "de jum", "zzz"):
        by_index = set(_rows().filter(substring_index.words_q(text, by_index=True)).values_list("pk", flat=True))
        assert by_index == set(_rows().filter(substring_index.words_q(text)).values_list("pk", flat=True)), text


def test_the_index_holds_nothing_of_a_protected_subject(ministry: Any) -> None:
    """A protected dispatch's subject is encrypted and its clear column empty: none of its trigrams
    is in the index, and its words find it for nobody (its readers find it by the search index)."""
    d = sent(ministry, subject="Quiproquo zygomatique", classification=1)
    assert _rows().get(pk=d.pk).subject == ""
    assert not _found("zygomatique") and not _found("Quiproquo")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            table = substring_index.TABLE
            cursor.execute(f"SELECT rowid FROM {table} WHERE {table} MATCH %s", ['"zyg" OR "qui"'])  # noqa: S608
            assert cursor.fetchall() == []
