"""Background tasks: (re)index one object (extracting an attachment's text on the way), a
batch of objects written in bulk, or whatever a bulk write left stale.

Queued after the transaction that changed the object commits (see `receivers`), run by the
database worker (`chancery serve` starts one; `chancery db_worker` in production). A task
that fails is queued again up to `MAX_ATTEMPTS` times; every attempt stays in the task
table (`django_tasks_db`), visible to administrators in the administration site.
"""

from __future__ import annotations

import logging

from django_tasks import task

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@task()
def index_object(doc_type: str, object_id: int, attempt: int = 1) -> int:
    """Index one object (or forget it when it no longer exists); returns documents written."""
    from chancery.search import indexing, saved

    try:
        written = indexing.index_objects(doc_type, [object_id])
    except Exception:
        logger.exception("indexing %s %s failed (attempt %s)", doc_type, object_id, attempt)
        if attempt < MAX_ATTEMPTS:
            index_object.enqueue(doc_type, object_id, attempt + 1)
        raise
    if written:
        saved.notify_new_matches(written)
    return len(written)


@task()
def index_batch(doc_type: str, object_ids: list[int], attempt: int = 1) -> int:
    """Index a batch of objects written in bulk (one transaction, bulk inserts)."""
    from chancery.search import indexing, saved

    try:
        written = indexing.index_objects(doc_type, object_ids)
    except Exception:
        logger.exception("indexing %s objects of type %s failed (attempt %s)", len(object_ids), doc_type, attempt)
        if attempt < MAX_ATTEMPTS:
            index_batch.enqueue(doc_type, object_ids, attempt + 1)
        raise
    if written:
        saved.notify_new_matches(written)
    return len(written)


@task()
def catch_up() -> int:
    """Queue the indexing of every object a bulk write left stale (missing or out of date)."""
    from chancery.search import indexing

    return sum(indexing.catch_up(enqueue=True).values())
