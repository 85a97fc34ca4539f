"""`chancery reindex`: progress bar, resumable after an interruption, stale documents forgotten."""

from __future__ import annotations

import importlib
import io
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection

from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import sent
from chancery.search import selectors
from chancery.search.backends import get_backend
from chancery.search.models import ReindexState, SavedSearchMatch, SearchDocument, document_key
from chancery.search.saved import save_search
from chancery.search.selectors import search

pytestmark = pytest.mark.django_db


def _docs(doc_type: str) -> set[int]:
    return set(
        SearchDocument.objects.unrestricted("test").filter(doc_type=doc_type).values_list("object_id", flat=True)
    )


def test_reindex_shows_progress_and_indexes_everything(corpus: Any, capsys: pytest.CaptureFixture[str]) -> None:
    SearchDocument.objects.unrestricted("test").all().delete()
    out = io.StringIO()
    call_command("reindex", "--restart", "--batch-size", "2", stdout=out)
    assert "Index rebuilt: 6 dispatch" in out.getvalue()
    assert "6/6" in capsys.readouterr().err  # the progress bar
    assert _docs("dispatch") == {getattr(corpus, name).pk for name in vars(corpus)}


def test_an_interrupted_reindex_resumes_where_it_stopped(ministry: Any, corpus: Any) -> None:
    ids = sorted(_docs("dispatch"))
    SearchDocument.objects.unrestricted("test").filter(doc_type="dispatch").delete()
    # As if a run had stopped after the first three dispatches.
    ReindexState.objects.update_or_create(doc_type="dispatch", defaults={"last_object_id": ids[2], "finished_at": None})
    out = io.StringIO()
    call_command("reindex", "--type", "dispatch", "--no-progress", stdout=out)
    assert "Index rebuilt: 3 dispatch" in out.getvalue()
    assert _docs("dispatch") == set(ids[3:])
    # The next run starts again from the beginning.
    call_command("reindex", "--type", "dispatch", "--no-progress", stdout=io.StringIO())
    assert _docs("dispatch") == set(ids)


def test_a_deleted_object_leaves_the_index(ministry: Any, corpus: Any) -> None:
    reader = ministry.users["counsellor.dakar"]
    assert search(reader, "brouillon").total == 1
    Dispatch.objects.unrestricted("test").filter(pk=corpus.draft.pk).delete()
    call_command("reindex", "--no-progress", stdout=io.StringIO())
    assert search(reader, "brouillon").total == 0
    assert corpus.draft.pk not in _docs("dispatch")


def test_a_capped_search_ranks_the_most_recent_objects_not_the_last_indexed(
    ministry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bounded ranking (`selectors._window`) walks the matches newest first: after a full
    reindex, which writes objects in id order, an old object indexed last must not crowd out
    the recent ones."""
    reader = ministry.users["counsellor.dakar"]
    recent = [sent(ministry, subject=f"Xylophone récent {n}", body="<p>Xylophone.</p>") for n in range(2)]
    older = [sent(ministry, subject=f"Xylophone ancien {n}", body="<p>Xylophone.</p>") for n in range(2)]
    # The older dispatches have the higher ids: a reindex in id order writes them last.
    Dispatch.objects.unrestricted("test").filter(pk__in=[d.pk for d in older]).update(dated=date(2018, 3, 1))
    get_backend().drop_all()
    SearchDocument.objects.unrestricted("test").all().delete()
    call_command("reindex", "--restart", "--no-progress", stdout=io.StringIO())
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    results = search(reader, "xylophone", per_page=2)  # the window is never below the page's end
    assert results.capped
    assert {h.object_id for h in results.hits} == {d.pk for d in recent}
    # Sorted by date, the older ones are still found.
    oldest = search(reader, "xylophone", sort="oldest", per_page=2)
    assert {h.object_id for h in oldest.hits} == {d.pk for d in older}
    # Date filters bound the walk: each finds its side, in full, whatever the window.
    for q, expected in [
        ("xylophone before:2018-03-01", older),
        ("xylophone year:2018", older),
        ("xylophone after:2018-03-02", recent),
        ("xylophone after:2018-03-01 before:2018-03-01", older),
        ("xylophone after:2018-03-02 before:2018-03-01", []),
    ]:
        for sort in ("relevance", "date"):
            found = search(reader, q, sort=sort, per_page=2)
            assert {h.object_id for h in found.hits} == {d.pk for d in expected}, (q, sort)
            assert found.total == len(expected), (q, sort)


def test_documents_are_keyed_by_their_date_and_renumbered_when_it_changes(ministry: Any) -> None:
    dispatch = sent(ministry, subject="Clef de document", body="<p>Clef.</p>")
    call_command("reindex", "--no-progress", stdout=io.StringIO())
    doc = SearchDocument.objects.unrestricted("test").get(doc_type="dispatch", object_id=dispatch.pk)
    assert doc.pk == document_key("dispatch", dispatch.pk, dispatch.dated)
    older = document_key("attachment", 1, date(2018, 3, 1))
    assert older < document_key("dispatch", 1, date(2018, 3, 2)) < doc.pk
    reader = ministry.users["counsellor.dakar"]
    saved = save_search(owner=reader, name="Clef", query="clef", notify=True)
    SavedSearchMatch.objects.create(saved_search=saved, document_id=doc.pk)
    # Its date changes: it is renumbered, with its engine row and the saved search's record.
    Dispatch.objects.unrestricted("test").filter(pk=dispatch.pk).update(dated=date(2018, 3, 1))
    call_command("reindex", "--restart", "--no-progress", stdout=io.StringIO())
    again = SearchDocument.objects.unrestricted("test").get(doc_type="dispatch", object_id=dispatch.pk)
    assert (again.pk, again.dated) == (document_key("dispatch", dispatch.pk, date(2018, 3, 1)), date(2018, 3, 1))
    assert [h.object_id for h in search(reader, "clef").hits] == [dispatch.pk]
    assert list(SavedSearchMatch.objects.values_list("document_id", flat=True)) == [again.pk]
    # Re-indexed unchanged, it keeps its id.
    call_command("reindex", "--restart", "--no-progress", stdout=io.StringIO())
    assert SearchDocument.objects.unrestricted("test").get(pk=again.pk).object_id == dispatch.pk
    with pytest.raises(ValueError, match="out of the index key's range"):
        document_key("dispatch", 1 << 29, date(2018, 3, 1))


def test_the_migration_renumbers_sequence_ids_with_their_engine_rows_and_saved_matches(
    ministry: Any, corpus: Any
) -> None:
    renumber = importlib.import_module("chancery.search.migrations.0002_document_recency_keys")._renumber
    reader = ministry.users["counsellor.dakar"]
    before = {h.object_id for h in search(reader, "gazoduc").hits}
    keyed = dict(SearchDocument.objects.unrestricted("test").values_list("pk", "object_id"))
    saved = save_search(owner=reader, name="Gazoduc", query="gazoduc", notify=True)
    SavedSearchMatch.objects.create(saved_search=saved, document_id=max(keyed))
    # As before the migration: documents numbered 1, 2, … by a sequence, engine rows alike.
    with connection.cursor() as cursor:
        for n, pk in enumerate(sorted(keyed), start=1):
            cursor.execute("UPDATE search_searchdocument SET id = %s WHERE id = %s", [n, pk])
            cursor.execute("UPDATE search_savedsearchmatch SET document_id = %s WHERE document_id = %s", [n, pk])
            if connection.vendor == "sqlite":
                cursor.execute("UPDATE search_fts SET rowid = %s WHERE rowid = %s", [n, pk])
    assert max(SearchDocument.objects.unrestricted("test").values_list("pk", flat=True)) == len(keyed)
    renumber(django_apps, SimpleNamespace(connection=connection))  # all it uses of a schema editor
    assert dict(SearchDocument.objects.unrestricted("test").values_list("pk", "object_id")) == keyed
    assert {h.object_id for h in search(reader, "gazoduc").hits} == before
    assert list(SavedSearchMatch.objects.values_list("document_id", flat=True)) == [max(keyed)]
