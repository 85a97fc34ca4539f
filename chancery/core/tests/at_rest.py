"""What lies at rest: do words of protected content reach the disk in clear?

Shared by the at-rest tests of each app. Each kind of protected content registers two word
collectors in `PROTECTED` and `OPEN` (by kind: "planning" here; the correspondence side adds
its own): the distinctive words (five letters or more) of protected objects' texts, read
through the models (decrypted), and the words of content stored in clear on purpose.
`leaks()` then looks for every protected word that occurs in no open content in the raw
store: the database (SQLite: the database image itself, free pages included; PostgreSQL:
the text of every row of every table) and every file under the data dir.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import translation

WORD = re.compile(r"[^\W\d_]{5,}")

Collector = Callable[[], set[str]]
PROTECTED: dict[str, Collector] = {}
OPEN: dict[str, Collector] = {}


def words(value: Any) -> set[str]:
    """The words of 5 letters or more of a text, or of every string inside a JSON value."""
    if isinstance(value, dict | list):
        value = " ".join(_strings(value))
    return set(WORD.findall(str(value or "")))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def register(kind: str, *, protected: Collector, open_words: Collector) -> None:
    PROTECTED[kind] = protected
    OPEN[kind] = open_words


def distinctive_words(kinds: Iterable[str] | None = None) -> set[str]:
    """Protected words of the given kinds (all by default) that no open content uses."""
    chosen = list(PROTECTED) if kinds is None else list(kinds)
    protected = set().union(*(PROTECTED[k]() for k in chosen))
    open_words = set().union(*(collect() for collect in OPEN.values()))
    folded = {w.casefold() for w in open_words}
    return {w for w in protected if w.casefold() not in folded}


# --------------------------------------------------------------------------- the raw store


def _sqlite_image() -> bytes:
    """The database image as this connection sees it (pages of the test's open transaction
    included, free pages too): for a database file, the file's bytes."""
    connection.ensure_connection()
    raw: Any = connection.connection
    return bytes(raw.serialize())


def _postgres_rows() -> bytes:
    out = bytearray()
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")  # noqa: S608 (table names)
            for (row,) in cursor.fetchall():
                out += row.encode("utf-8") + b"\n"
    return bytes(out)


def raw_store() -> dict[str, bytes]:
    """Everything Chancery keeps at rest: the database, then each file under the data dir."""
    store = {"database": _sqlite_image() if connection.vendor == "sqlite" else _postgres_rows()}
    root = Path(settings.CHANCERY_DATA_DIR)
    for path in sorted(root.rglob("*")):
        if path.is_file():
            store[str(path.relative_to(root))] = path.read_bytes()
    return store


def found_in(store: dict[str, bytes], word: str) -> list[str]:
    """Where `word` occurs as a whole word (UTF-8, any case of its ASCII letters)."""
    pattern = re.compile(
        rb"(?<![A-Za-z\x80-\xff])" + re.escape(word.encode("utf-8")) + rb"(?![A-Za-z\x80-\xff])", re.IGNORECASE
    )
    return [name for name, data in store.items() if pattern.search(data)]


def assert_nothing_in_clear(kind: str, *, at_least: int) -> None:
    """The acceptance check of one kind: it has distinctive words to look for (at least
    `at_least`), the search really reads the store (some open-only word is found), and no
    distinctive protected word is found."""
    distinctive = distinctive_words([kind])
    assert len(distinctive) >= at_least, sorted(distinctive)
    store = raw_store()
    open_only = sorted(OPEN[kind]() - PROTECTED[kind]())
    assert [word for word in open_only if found_in(store, word)], "the search finds no open word either"
    leaked = {word: where for word in sorted(distinctive) if (where := found_in(store, word))}
    assert not leaked, f"{len(leaked)} protected words in clear, e.g. {dict(list(leaked.items())[:10])}"


def leaks(kinds: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Distinctive protected words found in clear at rest, with where."""
    store = raw_store()
    found = {word: found_in(store, word) for word in sorted(distinctive_words(kinds))}
    return {word: where for word, where in found.items() if where}


# --------------------------------------------------------------------------- the schema


def _schema_words() -> set[str]:
    """Table, column, index and model names, and the audit log's event names: the store's own
    vocabulary, in clear by nature ("place" is a column before it is a protected word)."""
    from django.apps import apps

    from chancery.audit.models import AuditEvent

    names: list[str] = []
    for model in apps.get_models():
        names.append(model._meta.db_table)
        names += [f.column or "" for f in model._meta.concrete_fields]
        names += [index.name or "" for index in model._meta.indexes]
        # Django's permission rows name every model ("Can view review decision")
        with translation.override(None):
            names += [str(model._meta.verbose_name), str(model._meta.verbose_name_plural)]
    names += AuditEvent.objects.unrestricted("at-rest test: event names").values_list("action", flat=True).distinct()
    return words(" ".join(re.split(r"[_.]", " ".join(names))))


register("schema", protected=set, open_words=_schema_words)


# --------------------------------------------------------------------------- planning


# The texts of a programme that its marking protects (issue #9), stated here independently
# of how `planning.sealed` stores them: model, path to its programme, texts.
PLANNING_TEXTS = [
    ("Programme", "", ("title", "summary", "revision_reason")),
    ("Axis", "programme", ("narrative",)),
    ("Objective", "axis__programme", ("title", "description")),
    ("Action", "programme", ("title", "description", "risk_note")),
    ("Indicator", "programme", ("label", "data_source")),
    ("Measurement", "indicator__programme", ("evidence",)),
    ("Achievement", "programme", ("title", "description", "outlet", "link")),
    ("ProgrammeVersion", "programme", ("reason", "snapshot")),
    ("ProgrammeComment", "programme", ("body",)),
    ("ProgressUpdate", "action__programme", ("note",)),
]


def _planning_words(*, protected: bool) -> set[str]:
    from django.apps import apps

    from chancery.core.classification import Level

    found: set[str] = set()
    for name, path, fields in PLANNING_TEXTS:
        model = apps.get_model("planning", name)
        level = f"{path}__classification" if path else "classification"
        lookup = {f"{level}__gte" if protected else f"{level}__lt": Level.RESTRICTED}
        for row in model.objects.unrestricted("at-rest test: every text").filter(**lookup):
            for field in fields:
                found |= words(getattr(row, field))
    return found


def _organisation_words() -> set[str]:
    """The units directory and agents' names are open to every agent, kept in clear."""
    from chancery.accounts.models import User
    from chancery.organisation.models import Unit
    from chancery.planning.models import AxisType

    found: set[str] = set()
    for unit in Unit.objects.unrestricted("at-rest test: the directory"):
        fields = ("code", "name", "short_name", "city", "country")
        found |= words(" ".join(str(getattr(unit, f, "") or "") for f in fields))
    for user in User.objects.unrestricted("at-rest test: agents' names"):
        found |= words(f"{user.username} {user.first_name} {user.last_name}")
    for axis_type in AxisType.objects.all():
        found |= words(json.dumps([axis_type.name_fr, axis_type.name_en, axis_type.name_ar, axis_type.name_es]))
    return found


register(
    "planning",
    protected=lambda: _planning_words(protected=True),
    open_words=lambda: _planning_words(protected=False) | _organisation_words(),
)
