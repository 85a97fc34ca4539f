"""Writing the index: objects → analysed (and, when protected, hashed) tokens + metadata.

Called by the background tasks (after each change) and by `chancery reindex`. Indexing an
object that no longer exists removes its document. Protected text is analysed in memory
and only keyed hashes are written; the clear text is never stored, logged or returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from django.db.models import Exists, Field, OuterRef
from django.utils import timezone

from chancery.correspondence.content import TAG_PURPOSE
from chancery.crypto import keyed
from chancery.search import analysis
from chancery.search.adapters import adapter, adapters
from chancery.search.adapters.base import Entry
from chancery.search.backends import get_backend
from chancery.search.models import DocumentType, ReindexState, SearchDocument
from chancery.search.protection import Hasher

BATCH = 200


def tokens_for(entry: Entry, hasher: Hasher | None) -> tuple[list[str], list[str]]:
    """(terms, words) to write for an entry: clear, or keyed hashes for protected text."""
    analysed = analysis.analyse(entry.text, entry.language or "fr")
    if not entry.protected:
        return analysed.terms, analysed.words
    if hasher is None:
        raise ValueError("a protected entry needs the index key")
    terms = [hasher.term(t) for t in analysed.terms]
    words: list[str] = []
    for word in analysed.words:
        words.extend(hasher.word_prefixes(word))
    return terms, list(dict.fromkeys(words))


def _joined(values: Iterable[str]) -> str:
    """ "|A|B|": lets both engines filter on one value with a plain LIKE (as `Dispatch.tag_index`)."""
    items = [v.replace("|", "") for v in values if v]
    return ("|" + "|".join(items) + "|")[:1000] if items else ""


def _tags_index(entry: Entry) -> str:
    """The entry's tags; keyed tokens for a protected entry (as its dispatch's `tag_index`)."""
    tags = list(dict.fromkeys(t.upper()[:60] for t in entry.tags))
    if entry.protected and tags:
        return _joined(keyed.seal_terms(TAG_PURPOSE, tags).values())
    return _joined(tags)


def _document_fields(doc_type: str, entry: Entry) -> dict[str, object]:
    return {
        "dispatch_id": entry.dispatch_id,
        "programme_id": entry.programme_id,
        "unit_id": entry.unit_id,
        "unit_code": entry.unit_code[:40],
        "routed_index": _joined(entry.routed),
        "tags_index": _tags_index(entry),
        "author_id": entry.author_id,
        "reference": entry.reference[:200],
        "dated": entry.dated,
        "year": entry.dated.year if entry.dated else None,
        "classification": entry.classification,
        "language": entry.language[:5],
        "protected": entry.protected,
        "indexed_at": timezone.now(),
    }


_UPDATED_FIELDS = [
    "dispatch_id",
    "programme_id",
    "unit_id",
    "unit_code",
    "routed_index",
    "tags_index",
    "author_id",
    "reference",
    "dated",
    "year",
    "classification",
    "language",
    "protected",
    "indexed_at",
]


def _update_documents(docs: Sequence[SearchDocument]) -> None:
    """One prepared UPDATE run for the whole batch (a re-run of `chancery reindex`): much
    cheaper than `bulk_update`'s CASE expressions or one `save()` per document."""
    fields: list[Field[Any, Any]] = [SearchDocument._meta.get_field(name) for name in _UPDATED_FIELDS]  # type: ignore[misc]
    assignments = ", ".join(f"{connection.ops.quote_name(f.column or f.name)} = %s" for f in fields)
    rows = [[f.get_db_prep_save(getattr(doc, f.attname), connection) for f in fields] + [doc.pk] for doc in docs]
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE search_searchdocument SET {assignments} WHERE id = %s",  # noqa: S608 - column names only
            rows,
        )


@transaction.atomic
def index_objects(doc_type: str, ids: Iterable[int]) -> list[int]:
    """(Re)index these objects of one type; returns the ids of the documents written."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    entries = adapter(doc_type).entries(wanted)
    found = {e.object_id for e in entries}
    gone = [i for i in wanted if i not in found]
    backend = get_backend()
    if gone:
        stale = list(
            SearchDocument.objects.unrestricted("index maintenance")
            .filter(doc_type=doc_type, object_id__in=gone)
            .values_list("pk", flat=True)
        )
        backend.delete(stale)
        SearchDocument.objects.unrestricted("index maintenance").filter(pk__in=stale).delete()
    hasher = Hasher() if any(e.protected for e in entries) else None
    existing = dict(
        SearchDocument.objects.unrestricted("index maintenance")
        .filter(doc_type=doc_type, object_id__in=found)
        .values_list("object_id", "pk")
    )
    rows: list[tuple[int, str, str]] = []
    new_docs: list[SearchDocument] = []
    written: list[int] = []
    updated: list[SearchDocument] = []
    for entry in entries:
        fields = _document_fields(doc_type, entry)
        pk = existing.get(entry.object_id)
        doc = SearchDocument(pk=pk, doc_type=doc_type, object_id=entry.object_id, **fields)
        doc._entry = entry  # type: ignore[attr-defined]
        new_docs.append(doc)
        if pk is not None:
            updated.append(doc)
    if updated:
        _update_documents(updated)
    created = [d for d in new_docs if d.pk is None]
    if created:
        SearchDocument.objects.bulk_create(created)
    for doc in new_docs:
        entry = doc._entry  # type: ignore[attr-defined]
        terms, words = tokens_for(entry, hasher)
        rows.append((doc.pk, " ".join(terms), " ".join(words)))
        written.append(doc.pk)
    _write_rows(backend, rows)
    return written


def _write_rows(backend: object, rows: Sequence[tuple[int, str, str]]) -> None:
    write_many = getattr(backend, "write_many", None)
    if write_many is not None:
        write_many(rows)
        return
    for doc_id, terms, words in rows:
        backend.write(doc_id, terms=terms.split(), words=words.split())  # type: ignore[attr-defined]


@transaction.atomic
def remove_objects(doc_type: str, ids: Iterable[int]) -> None:
    docs = SearchDocument.objects.unrestricted("index maintenance").filter(doc_type=doc_type, object_id__in=list(ids))
    pks = list(docs.values_list("pk", flat=True))
    get_backend().delete(pks)
    SearchDocument.objects.unrestricted("index maintenance").filter(pk__in=pks).delete()


# progress(doc_type, done_in_type, total_in_type)
Progress = Callable[[str, int, int], None]


def reindex(
    *, types: Sequence[str] | None = None, restart: bool = False, progress: Progress | None = None, batch: int = BATCH
) -> dict[str, int]:
    """Index every object of these types, in id order, one committed batch at a time.

    The position reached is saved with each batch (`ReindexState`), so an interrupted run
    resumes where it stopped; `restart` begins again from the first object. The server
    keeps serving meanwhile: each batch is a short transaction, and documents not yet
    re-indexed keep answering from their previous version.
    """
    counts: dict[str, int] = {}
    for doc_type in types or [t.value for t in DocumentType]:
        the_adapter = adapters()[doc_type]
        state, _created = ReindexState.objects.get_or_create(doc_type=doc_type)
        if restart or state.finished_at is not None:
            state.last_object_id = 0
            state.started_at = timezone.now()
            state.finished_at = None
            state.save()
        total = the_adapter.count_after(0) if progress else 0
        done = total - the_adapter.count_after(state.last_object_id) if progress else 0
        counts[doc_type] = 0
        while True:
            ids = the_adapter.all_ids(state.last_object_id, batch)
            if not ids:
                break
            with transaction.atomic():
                index_objects(doc_type, ids)
                _forget_missing(doc_type, state.last_object_id, ids[-1], ids)
                state.last_object_id = ids[-1]
                state.save(update_fields=["last_object_id"])
            counts[doc_type] += len(ids)
            done += len(ids)
            if progress:
                progress(doc_type, done, total)
        # Documents after the last object (deleted since) are forgotten.
        _forget_missing(doc_type, state.last_object_id, None, [])
        state.finished_at = timezone.now()
        state.save(update_fields=["finished_at"])
    return counts


def _forget_missing(doc_type: str, after: int, upto: int | None, present: list[int]) -> None:
    """Remove documents of objects (in (after, upto]) that no longer exist."""
    docs = SearchDocument.objects.unrestricted("index maintenance").filter(doc_type=doc_type, object_id__gt=after)
    if upto is not None:
        docs = docs.filter(object_id__lte=upto)
    stale = docs.exclude(object_id__in=present)
    pks = list(stale.values_list("pk", flat=True))
    if pks:
        get_backend().delete(pks)
        SearchDocument.objects.unrestricted("index maintenance").filter(pk__in=pks).delete()


def stale_ids(doc_type: str, *, after: int = 0, limit: int = 1000) -> list[int]:
    """Ids (in order, after `after`) of objects whose index document is missing or older
    than the object's last change: what a bulk write (which sends no `post_save`) left behind."""
    the_adapter = adapters()[doc_type]
    rows = the_adapter._rows().filter(pk__gt=after)
    current = SearchDocument.objects.unrestricted("index maintenance").filter(
        doc_type=doc_type, object_id=OuterRef("pk")
    )
    if any(f.name == "updated_at" for f in rows.model._meta.get_fields()):
        current = current.filter(indexed_at__gte=OuterRef("updated_at"))
    stale = rows.filter(~Exists(current)).order_by("pk").values_list("pk", flat=True)
    return list(stale[:limit])


def catch_up(*, types: Sequence[str] | None = None, enqueue: bool = True, batch: int = BATCH * 5) -> dict[str, int]:
    """Find every stale object and (re)index it: queued as background batches when
    `enqueue`, here and now otherwise. Returns the objects found per type."""
    found: dict[str, int] = {}
    for doc_type in types or [t.value for t in DocumentType]:
        found[doc_type] = 0
        after = 0
        while ids := stale_ids(doc_type, after=after, limit=batch):
            found[doc_type] += len(ids)
            after = ids[-1]
            if enqueue:
                from chancery.search.tasks import index_batch

                index_batch.enqueue(doc_type, ids)
            else:
                index_objects(doc_type, ids)
    return found
