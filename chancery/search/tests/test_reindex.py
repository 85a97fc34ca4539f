"""`chancery reindex`: progress bar, resumable after an interruption, stale documents forgotten."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import call_command

from chancery.correspondence.models import Dispatch
from chancery.search.models import ReindexState, SearchDocument
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
