"""Type-ahead suggestions, full facets and indexing after bulk writes.

Suggestions and facets go through the same gate as results: documents seeded out of the
reader's scope with matching words change no suggestion and no facet value or count.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from chancery.core.signals import bulk_written
from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import sent
from chancery.search.indexing import reindex, stale_ids
from chancery.search.models import SearchDocument
from chancery.search.selectors import FACET_SIZE, complete, search, suggest
from chancery.search.tests.conftest import sent_out_of_scope
from chancery.search.tests.test_permissions import _hidden_documents

if TYPE_CHECKING:
    from chancery.accounts.models import User

pytestmark = pytest.mark.django_db


def _suggested(user: User, text: str) -> list[tuple[str, int, str | None, str]]:
    return [(h.doc_type, h.object_id, h.subject, h.reference) for h in suggest(user, text)]


def test_suggestions_complete_the_word_being_typed(ministry: Any, corpus: Any) -> None:
    cleared = ministry.users["hom.dakar"]
    found = suggest(cleared, "transsah")  # a prefix of a word of the protected body
    assert [(h.doc_type, h.object_id) for h in found] == [("dispatch", corpus.protected.pk)]
    assert found[0].subject == "Négociations secrètes sur le gazoduc"
    assert found[0].reference == corpus.protected.reference and found[0].dated is not None
    # Not cleared for it: no suggestion at all.
    assert suggest(ministry.users["counsellor.dakar"], "transsah") == []
    assert suggest(cleared, "t") == []  # too short to ask


def test_the_word_being_typed_is_completed_from_readable_documents_only(ministry: Any, corpus: Any) -> None:
    cleared = ministry.users["hom.dakar"]
    # A word of the protected body: offered whole to a reader cleared for it, from the
    # document's own (decrypted) text — the index holds it only as keyed hashes.
    assert complete(cleared, "transsah") == ["transsaharien"]
    assert complete(ministry.users["counsellor.dakar"], "transsah") == []
    # Accents folded as in search; the word as written; most frequent first.
    assert complete(ministry.users["counsellor.dakar"], "cultu")[:2] == ["culturelle"]
    assert complete(cleared, "t") == [] and complete(cleared, "visit*") == []


def test_suggestions_match_a_reference_as_typed(ministry: Any, corpus: Any) -> None:
    reference = corpus.clear.reference
    found = _suggested(ministry.users["counsellor.dakar"], reference)
    assert found and found[0][:2] == ("dispatch", corpus.clear.pk)


def test_a_hidden_document_changes_no_suggestion(ministry: Any, corpus: Any) -> None:
    reader = ministry.users["counsellor.dakar"]
    cleared = ministry.users["hom.dakar"]
    texts = ["gazod", "gazoduc", "reun", "visit"]
    before = {t: (_suggested(reader, t), complete(reader, t)) for t in texts}
    before_cleared = _suggested(cleared, "gazod")
    words_cleared = complete(cleared, "secr")
    _hidden_documents(ministry)
    reindex()
    assert {t: (_suggested(reader, t), complete(reader, t)) for t in texts} == before
    # The seeded documents do match: a reader cleared for one of them is offered it.
    assert len(_suggested(cleared, "gazod")) == len(before_cleared) + 1
    assert "secrète" in complete(cleared, "secr") and "secrète" not in words_cleared
    assert "secrète" not in complete(reader, "secr")


def test_suggestion_fragment_for_the_header_box(client_for: Any, corpus: Any) -> None:
    response = client_for("hom.dakar").get("/search/suggest/", {"q": "transsah"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'role="listbox"' in body and "Négociations secrètes sur le gazoduc" in body
    assert corpus.protected.reference in body
    assert "transsaharien</span>" in body and "q=transsaharien" in body  # the completed word, and its search
    other = client_for("counsellor.lima").get("/search/suggest/", {"q": "transsah"}).content.decode()
    assert "Négociations" not in other and corpus.protected.reference not in other
    assert client_for("hom.dakar").get("/search/suggest/", {"q": ""}).content.decode().strip() == ""


def test_every_facet_value_is_counted_and_hidden_ones_are_not(ministry: Any, corpus: Any, client_for: Any) -> None:
    tags = [f"T{i:02d}" for i in range(FACET_SIZE + 3)]
    for i, tag in enumerate(tags):
        sent(ministry, subject=f"Inventaire numéro {i}", body="<p>Inventaire.</p>", tags=[tag, "INVENTORY"])
    # Out of the reader's scope (LIMA → DAM/1), with the same word and tags of its own.
    sent_out_of_scope(ministry, subject="Inventaire andin", body="<p>Inventaire.</p>", tags=["HIDDENTAG", "INVENTORY"])
    reindex()
    results = search(ministry.users["counsellor.dakar"], "inventaire")
    facets = {f.name: f.values for f in results.facets}
    assert results.total == len(tags)
    assert sorted(v for v, _label, _n in facets["tag"]) == sorted([*tags, "INVENTORY"])
    assert dict((v, n) for v, _label, n in facets["tag"])["INVENTORY"] == len(tags)
    assert [(v, n) for v, _label, n in facets["from"]] == [("DAKAR", len(tags))]
    page = client_for("counsellor.dakar").get("/search/", {"q": "inventaire"}).content.decode()
    assert "search-facet-more" in page and "tag%3AT14" in page and "HIDDENTAG" not in page


def test_bulk_writes_are_caught_up_in_the_background(
    ministry: Any, corpus: Any, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reader = ministry.users["counsellor.dakar"]
    # A bulk write: the subject changed by a queryset update, and a document gone missing.
    Dispatch.objects.unrestricted("test: a bulk write").filter(pk=corpus.clear.pk).update(
        subject="Réunion sur les semences agricoles", updated_at=timezone.now()
    )
    SearchDocument.objects.unrestricted("test").filter(doc_type="dispatch", object_id=corpus.english.pk).delete()
    assert set(stale_ids("dispatch")) == {corpus.clear.pk, corpus.english.pk}
    assert search(reader, "semences").total == 0  # stale until caught up
    with django_capture_on_commit_callbacks(execute=True):
        bulk_written.send(sender=None, model=None, ids=None)
    run_tasks()
    assert [h.object_id for h in search(reader, "semences").hits] == [corpus.clear.pk]
    assert [h.object_id for h in search(reader, "fisheries").hits] == [corpus.english.pk]
    assert stale_ids("dispatch") == []


def test_bulk_writes_with_their_ids_are_queued_in_batches(
    ministry: Any, corpus: Any, run_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    SearchDocument.objects.unrestricted("test").filter(doc_type="dispatch", object_id=corpus.spanish.pk).delete()
    with django_capture_on_commit_callbacks(execute=True):
        bulk_written.send(sender=None, model=Dispatch, ids=[corpus.spanish.pk])
    assert DBTaskResult.objects.filter(task_path__endswith="index_batch").exists()
    run_tasks()
    assert [h.object_id for h in search(ministry.users["counsellor.dakar"], "comerciales").hits] == [corpus.spanish.pk]
