"""Writing the index: objects → analysed (and, when protected, hashed) tokens + metadata.

Called by the background tasks (after each change) and by `chancery reindex`. Indexing an
object that no longer exists removes its document. Protected text is analysed in memory
and only keyed hashes are written; the clear text is never stored, logged or returned.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chancery.correspondence.content import TAG_PURPOSE
from chancery.crypto import keyed
from chancery.search import analysis
from chancery.search.adapters import adapter, adapters
from chancery.search.adapters.base import Adapter, Entry
from chancery.search.backends import get_backend
from chancery.search.models import DocumentType, ReindexState, SearchDocument, document_key
from chancery.search.protection import Hasher

BATCH = 2000  # objects per committed batch: a few hundred ms of writing


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


def _tags(entry: Entry) -> list[str]:
    return list(dict.fromkeys(t.upper()[:60] for t in entry.tags))


def _sealed_tags(entries: Sequence[Entry]) -> dict[str, str]:
    """Keyed tokens of the tags of the protected entries of a batch (one key read, one
    lookup of the sealed terms for the whole batch)."""
    tags = [tag for entry in entries if entry.protected for tag in _tags(entry)]
    return keyed.seal_terms(TAG_PURPOSE, tags) if tags else {}


def _tags_index(entry: Entry, sealed: dict[str, str]) -> str:
    """The entry's tags; keyed tokens for a protected entry (as its dispatch's `tag_index`)."""
    tags = _tags(entry)
    if entry.protected and tags:
        return _joined(sealed[tag] for tag in tags)
    return _joined(tags)


_FIELDS = [
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


def _document_values(entry: Entry, sealed: dict[str, str], indexed_at: Any) -> list[Any]:
    """The values of `_FIELDS` for an entry, ready for the database (see `_write_documents`)."""
    return [
        entry.dispatch_id,
        entry.programme_id,
        entry.unit_id,
        entry.unit_code[:40],
        _joined(entry.routed),
        _tags_index(entry, sealed),
        entry.author_id,
        entry.reference[:200],
        connection.ops.adapt_datefield_value(entry.dated),
        entry.dated.year if entry.dated else None,
        int(entry.classification),
        entry.language[:5],
        bool(entry.protected),
        indexed_at,
    ]


def _write_documents(doc_type: str, entries: Sequence[Entry], sealed: dict[str, str]) -> list[int]:
    """Insert or update the `SearchDocument` rows of these entries with one prepared
    statement each (executemany): the ORM's per-field preparation and model instances cost
    more than the analysis at a million documents. Each document's id is its recency key
    (`models.document_key`): a document whose date changed is renumbered. Returns the document id of each entry
    (in order)."""
    existing = dict(
        SearchDocument.objects.unrestricted("index maintenance")
        .filter(doc_type=doc_type, object_id__in=[e.object_id for e in entries])
        .values_list("object_id", "pk")
    )
    now = timezone.now()
    indexed_at = connection.ops.adapt_datetimefield_value(now)
    today = timezone.localdate(now)
    quote = connection.ops.quote_name
    updates: list[list[Any]] = []
    inserts: list[list[Any]] = []
    ids = dict(existing)
    moves: list[tuple[int, int]] = []
    for entry in entries:
        values = _document_values(entry, sealed, indexed_at)
        key = document_key(doc_type, entry.object_id, entry.dated, today=today)
        pk = existing.get(entry.object_id)
        if pk is None:
            ids[entry.object_id] = key
            inserts.append([key, doc_type, entry.object_id, *values])
            continue
        if key != pk and entry.dated is not None:  # its date changed (an undated one keeps its first day)
            moves.append((key, pk))
            pk = ids[entry.object_id] = key
        updates.append([*values, pk])
    move_documents(moves)
    with connection.cursor() as cursor:
        if updates:
            assignments = ", ".join(f"{quote(name)} = %s" for name in _FIELDS)
            cursor.executemany(
                f"UPDATE search_searchdocument SET {assignments} WHERE id = %s",  # noqa: S608 - column names only
                updates,
            )
        if inserts:
            columns = ", ".join(quote(name) for name in ["id", "doc_type", "object_id", *_FIELDS])
            marks = ", ".join(["%s"] * (len(_FIELDS) + 3))
            cursor.executemany(
                f"INSERT INTO search_searchdocument ({columns}) VALUES ({marks})",  # noqa: S608 - column names only
                inserts,
            )
    return [ids[e.object_id] for e in entries]


def move_documents(moves: Sequence[tuple[int, int]]) -> None:
    """Renumber documents ((new id, old id) pairs): their rows, their engine rows and the
    saved searches' record of them (a document keeps being announced once)."""
    if not moves:
        return
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE search_searchdocument SET id = %s WHERE id = %s", list(moves))
        cursor.executemany("UPDATE search_savedsearchmatch SET document_id = %s WHERE document_id = %s", list(moves))
    get_backend().move(moves)


# An analysed object: its entry (text dropped) and its engine rows' terms and words.
Analysed = tuple[Entry, str, str]


def analyse_objects(doc_type: str, ids: Sequence[int]) -> list[Analysed]:
    """Read and analyse these objects (decrypt, normalise, stem, hash when protected):
    everything but the writes, so that `chancery reindex --jobs` runs it in worker
    processes. The clear text is dropped from each entry once analysed."""
    entries = adapter(doc_type).entries(ids)
    hasher = Hasher() if any(e.protected for e in entries) else None
    analysed: list[Analysed] = []
    for entry in entries:
        terms, words = tokens_for(entry, hasher)
        entry.text = ""
        analysed.append((entry, " ".join(terms), " ".join(words)))
    return analysed


@transaction.atomic
def write_analysed(doc_type: str, ids: Sequence[int], analysed: Sequence[Analysed]) -> list[int]:
    """Write the index of these objects from their analysis (`analyse_objects`); objects
    of `ids` it does not hold no longer exist and are forgotten. Returns the document ids."""
    entries = [entry for entry, _terms, _words in analysed]
    found = {e.object_id for e in entries}
    gone = [i for i in ids if i not in found]
    backend = get_backend()
    if gone:
        stale = list(
            SearchDocument.objects.unrestricted("index maintenance")
            .filter(doc_type=doc_type, object_id__in=gone)
            .values_list("pk", flat=True)
        )
        backend.delete(stale)
        SearchDocument.objects.unrestricted("index maintenance").filter(pk__in=stale).delete()
    if not entries:
        return []
    doc_ids = _write_documents(doc_type, entries, _sealed_tags(entries))
    backend.write_many(
        [(doc_id, terms, words) for doc_id, (_entry, terms, words) in zip(doc_ids, analysed, strict=True)]
    )
    return doc_ids


def index_objects(doc_type: str, ids: Iterable[int]) -> list[int]:
    """(Re)index these objects of one type; returns the ids of the documents written.

    Built for batches (`chancery reindex` passes thousands): the adapter reads them in a
    few queries, the tags of protected entries are sealed together, and the documents and
    the engine's rows are written with one prepared statement each."""
    wanted = sorted({int(i) for i in ids})
    if not wanted:
        return []
    return write_analysed(doc_type, wanted, analyse_objects(doc_type, wanted))


@transaction.atomic
def remove_objects(doc_type: str, ids: Iterable[int]) -> None:
    docs = SearchDocument.objects.unrestricted("index maintenance").filter(doc_type=doc_type, object_id__in=list(ids))
    pks = list(docs.values_list("pk", flat=True))
    get_backend().delete(pks)
    SearchDocument.objects.unrestricted("index maintenance").filter(pk__in=pks).delete()


# progress(doc_type, done_in_type, total_in_type)
Progress = Callable[[str, int, int], None]


def _analyse_job(job: tuple[str, list[int]]) -> tuple[list[int], list[Analysed]]:
    """A worker process's share of `reindex(jobs=…)`: one batch, read and analysed."""
    doc_type, ids = job
    return ids, analyse_objects(doc_type, ids)


def _batches(the_adapter: Adapter, after: int, batch: int) -> Iterator[list[int]]:
    while ids := the_adapter.all_ids(after, batch):
        yield ids
        after = ids[-1]


def reindex(
    *,
    types: Sequence[str] | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    batch: int = BATCH,
    jobs: int = 1,
) -> dict[str, int]:
    """Index every object of these types, in id order, one committed batch at a time.

    The position reached is saved with each batch (`ReindexState`), so an interrupted run
    resumes where it stopped; `restart` begins again from the first object. The server
    keeps serving meanwhile: each batch is a short transaction (its reading and analysis
    happen before it), and documents not yet re-indexed keep answering from their
    previous version. With `jobs` > 1, worker processes read and analyse the next batches
    while this process writes, in order, the batches they hand back.
    """
    counts: dict[str, int] = {}
    if connection.in_atomic_block:
        # Worker processes would not see what this transaction wrote, and closing the
        # connections for them would end it: inside a transaction, one process does it all.
        jobs = 1
    if jobs > 1:
        from chancery.search.protection import index_key

        index_key()  # created here, once, rather than raced for by the workers
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
        if jobs > 1:
            batches = list(_batches(the_adapter, state.last_object_id, batch))
            connections.close_all()  # each worker opens its own connection
            pool = multiprocessing.get_context("fork").Pool(jobs)
            results: Iterator[tuple[list[int], list[Analysed]]] = pool.imap(
                _analyse_job, [(doc_type, ids) for ids in batches]
            )
        else:
            pool = None
            results = (
                (ids, analyse_objects(doc_type, ids)) for ids in _batches(the_adapter, state.last_object_id, batch)
            )
        try:
            for ids, analysed in results:
                with transaction.atomic():
                    write_analysed(doc_type, ids, analysed)
                    _forget_missing(doc_type, state.last_object_id, ids[-1], ids)
                    state.last_object_id = ids[-1]
                    state.save(update_fields=["last_object_id"])
                counts[doc_type] += len(ids)
                done += len(ids)
                if progress:
                    progress(doc_type, done, total)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
        # Documents after the last object (deleted since) are forgotten.
        _forget_missing(doc_type, state.last_object_id, None, [])
        state.finished_at = timezone.now()
        state.save(update_fields=["finished_at"])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE search_searchdocument")  # the planner's view of a table just rewritten
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
