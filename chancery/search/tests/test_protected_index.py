"""The index does not undo encryption at rest: no word of a protected dispatch, attachment or
programme is readable anywhere in the index storage; clear documents' words are (the check
can fail); the index key is a wrapped data key that `rotate-keys` re-wraps."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from chancery.correspondence.tests.domain_helpers import sent
from chancery.crypto.models import DataKey
from chancery.crypto.services import rotate_keys
from chancery.search.analysis import fold, stem
from chancery.search.indexing import reindex
from chancery.search.models import IndexKey
from chancery.search.selectors import search

pytestmark = pytest.mark.django_db

# Words found only in protected documents of the corpus ("gazoduc" is also in a clear draft).
SECRET_WORDS = ["transsaharien", "pourparlers", "Abuja", "discrets", "secrètes"]
ATTACHMENT_WORDS = ["hydrocarbures", "Kaduna"]
PROGRAMME_WORDS = ["ornithologie", "Casamance"]


def _index_storage() -> bytes:
    """Every byte the index holds, read from the database (FTS5 shadow tables included)."""
    chunks: list[bytes] = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'search%'")
            tables = [row[0] for row in cursor.fetchall()]
        else:
            cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'search%'")
            tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - table names from the catalogue
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value))
                    elif value is not None:
                        chunks.append(str(value).encode("utf-8"))
    return b"\n".join(chunks).lower()


def _forms(word: str) -> set[bytes]:
    folded = fold(word)
    return {word.lower().encode(), folded.encode(), stem(folded, "fr").encode()}


@pytest.fixture
def protected_programme(ministry: Any) -> Any:
    from chancery.planning.models import Programme

    return Programme.objects.create(
        mission=ministry.units["DAKAR"],
        year=2031,
        title="Programme ornithologie",
        summary="Protection des oiseaux de Casamance",
        classification=1,
    )


def test_no_protected_word_in_the_index(ministry: Any, corpus: Any, protected_programme: Any) -> None:
    sent(
        ministry,
        author="hom.dakar",
        classification=1,
        subject="Annexe énergie",
        attachments=[("note.txt", b"Rapport sur les hydrocarbures de Kaduna")],
    )
    reindex()
    storage = _index_storage()
    for word in SECRET_WORDS + ATTACHMENT_WORDS + PROGRAMME_WORDS:
        for form in _forms(word):
            assert form not in storage, word
    # Words of a clear dispatch are there: the check reads the right storage.
    assert b"cooper" in storage and b"culturel" in storage
    # And the protected words are still found by readers cleared for them.
    reader = ministry.users["hom.dakar"]
    assert search(reader, "hydrocarbures").total == 1
    assert search(reader, "transsaharien").hits[0].object_id == corpus.protected.pk
    assert search(ministry.users["plan.sg4"], "ornithologie type:programme").total == 1


def test_index_key_is_a_wrapped_data_key_covered_by_rotation(ministry: Any, corpus: Any) -> None:
    row = IndexKey.objects.select_related("data_key").get()
    before = (row.data_key.kek_id, bytes(row.data_key.wrapped_key))
    rotate_keys()
    after_key = DataKey.objects.get(pk=row.data_key_id)
    assert (after_key.kek_id, bytes(after_key.wrapped_key)) != before
    # Same clear key after re-wrapping: protected documents are still found.
    assert search(ministry.users["hom.dakar"], "pourparlers").total == 1


def test_protected_tags_are_keyed_in_the_index_and_named_in_facets(ministry: Any, corpus: Any) -> None:
    # ENERGY is a tag of the protected dispatch only; CULTURE of a clear one
    storage = _index_storage()
    assert b"|energy|" not in storage and b"|culture|" in storage
    reader, outsider = ministry.users["hom.dakar"], ministry.users["desk.dg76"]
    results = search(reader, "tag:energy")
    assert [h.object_id for h in results.hits] == [corpus.protected.pk]
    tags = dict((value, count) for value, _label, count in next(f for f in results.facets if f.name == "tag").values)
    assert tags == {"ENERGY": 1}  # named from its keyed token, for a reader who sees the dispatch
    everything = search(reader, "type:dispatch")
    facet = next(f for f in everything.facets if f.name == "tag").values
    assert all(not value.startswith("k") or value.isupper() for value, _label, _n in facet)
    assert search(outsider, "tag:energy").total == 0
