"""Renumber the index's documents with their recency keys (`models.document_key`).

Documents were numbered by a sequence: in the order they were indexed, which a full reindex
makes type by type, so a search's "newest matches" were the documents indexed last. Their
engine rows follow their new ids: the same row of `search_searchdocument` on PostgreSQL (its
`tsvector` columns), the FTS5 row (and its index entries) on SQLite. The keys are far
above any id a sequence handed out, so an old and a new id never meet.
"""

from django.db import migrations

BATCH = 5000
SEQUENCE_END = 1 << 32  # every recency key is above it (day 1 of year 1, shifted)


def _renumber(apps, schema_editor):  # type: ignore[no-untyped-def]
    from chancery.search.indexing import move_documents
    from chancery.search.models import document_key

    documents = apps.get_model("search", "SearchDocument")
    after = 0
    while True:
        rows = list(
            documents.objects.filter(pk__gt=after, pk__lt=SEQUENCE_END)
            .order_by("pk")
            .values_list("pk", "doc_type", "object_id", "dated", "indexed_at")[:BATCH]
        )
        if not rows:
            break
        after = rows[-1][0]
        moves = [
            (document_key(doc_type, object_id, dated, today=indexed_at.date()), pk)
            for pk, doc_type, object_id, dated, indexed_at in rows
        ]
        move_documents([(new, old) for new, old in moves if new != old])


class Migration(migrations.Migration):
    dependencies = [("search", "0001_initial")]

    operations = [migrations.RunPython(_renumber, migrations.RunPython.noop, elidable=True)]
