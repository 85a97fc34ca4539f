"""Reading the index for one user: results, counts, facets and snippets.

Everything starts from `SearchDocument.objects.visible_to(user)` — the gating object's own
`visible_to` — so a hidden document changes no number the reader sees: the total, every
facet count and every page are computed over that queryset only; result objects are then
fetched again through their own model's gate before anything about them is shown.
Snippets are cut from the clear text decrypted on the fly for these objects only.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chancery.accounts.models import User
from chancery.core.classification import Level, Marking
from chancery.correspondence.content import TAG_PURPOSE, tag_patterns
from chancery.crypto import keyed
from chancery.search import analysis
from chancery.search.adapters import adapter
from chancery.search.backends import get_backend
from chancery.search.models import DocumentType, SearchDocument
from chancery.search.protection import Hasher
from chancery.search.query import Query, alternatives, parse

PER_PAGE = 20
MAX_PAGE = 100
FACET_SIZE = 12
SORTS = ("relevance", "date", "oldest")
SNIPPET_WORDS = 30


@dataclass
class Hit:
    doc_type: str
    object_id: int
    title: str
    url: str
    reference: str
    subject: str | None
    snippet: SafeString
    unit: str
    dated: date | None
    classification: int
    compartments: tuple[str, ...] = ()
    protected: bool = False

    @property
    def type_label(self) -> str:
        return str(DocumentType(self.doc_type).label)


@dataclass
class Facet:
    name: str
    values: list[tuple[str, str, int]]  # (value for the filter, label, count)


@dataclass
class Results:
    query: Query
    hits: list[Hit] = field(default_factory=list)
    total: int = 0
    page: int = 1
    pages: int = 0
    sort: str = "relevance"
    facets: list[Facet] = field(default_factory=list)

    @property
    def marking(self) -> Marking | None:
        """The banner of the page: the highest marking shown and every caveat shown."""
        if not self.hits:
            return None
        level = max(h.classification for h in self.hits)
        return Marking.of(level, {c for h in self.hits for c in h.compartments})

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _clauses(query: Query, hasher: Hasher | None, which: Sequence[Any]) -> list[list[Any]]:
    return [alternatives(clause, hasher) for clause in which]


def filtered(user: User | Any, query: Query) -> QuerySet[SearchDocument]:
    """Visible documents meeting the query's filters and exclusions (not yet its words)."""
    qs: QuerySet[SearchDocument] = SearchDocument.objects.visible_to(user)
    filters = query.filters
    if "type" in filters:
        qs = qs.filter(doc_type__in=filters["type"])
    if "from" in filters:
        qs = qs.filter(unit_code__iexact=filters["from"])
    if "to" in filters:
        qs = qs.filter(routed_index__icontains=f"|{filters['to']}|")
    if "ref" in filters:
        qs = qs.filter(reference__istartswith=filters["ref"])
    if "tag" in filters:
        clear, token = tag_patterns(filters["tag"])
        qs = qs.filter(Q(tags_index__contains=clear) | Q(tags_index__contains=token))
    if "by" in filters:
        authors = User.objects.visible_to(user).filter(username__iexact=filters["by"]).values("pk")
        qs = qs.filter(author_id__in=authors)
    if "after" in filters:
        qs = qs.filter(dated__gte=filters["after"])
    if "before" in filters:
        qs = qs.filter(dated__lte=filters["before"])
    if "year" in filters:
        qs = qs.filter(year=filters["year"])
    if "classification" in filters:
        qs = qs.filter(classification=filters["classification"])
    if query.must_not:
        backend = get_backend()
        hasher = Hasher()
        for clause in _clauses(query, hasher, query.must_not):
            sql, params = backend.match([clause])
            qs = qs.extra(where=[f"NOT ({sql})"], params=params)  # noqa: S610 - built from tokens, not input
    return qs


def matching(user: User | Any, query: Query) -> tuple[QuerySet[SearchDocument], list[list[Any]]]:
    qs = filtered(user, query)
    clauses = _clauses(query, Hasher(), query.must) if query.must else []
    if clauses:
        sql, params = get_backend().match(clauses)
        qs = qs.extra(where=[sql], params=params)  # noqa: S610 - built from tokens, not input
    return qs, clauses


# One row per matching document the reader may read: the gate is evaluated once per search,
# and the total, the facets and the order by date are computed from these rows.
_ROW = ("id", "doc_type", "unit_code", "year", "classification", "tags_index", "dated")


def _facets(rows: Sequence[tuple[Any, ...]]) -> list[Facet]:
    counters: dict[str, Counter[Any]] = {name: Counter() for name in ("type", "from", "year", "tag", "classification")}
    for _id, doc_type, unit_code, year, classification, tags_index, _dated in rows:
        counters["type"][doc_type] += 1
        if unit_code:
            counters["from"][unit_code] += 1
        if year:
            counters["year"][year] += 1
        counters["classification"][classification] += 1
        if tags_index:
            counters["tag"].update(t for t in tags_index.split("|") if t)
    # Protected documents carry keyed tokens: name those the reader's own rows hold, and
    # count them with the clear tag of the same name.
    names = keyed.unseal_terms(TAG_PURPOSE, counters["tag"])
    for token_, name in names.items():
        counters["tag"][name] += counters["tag"].pop(token_)
    for stray in [t for t in counters["tag"] if keyed.is_token(t)]:
        del counters["tag"][stray]

    def top(name: str) -> list[tuple[Any, int]]:
        return sorted(counters[name].items(), key=lambda item: (-item[1], str(item[0])))[:FACET_SIZE]

    types = dict(DocumentType.choices)
    levels = {int(level): level.label for level in Level}
    return [
        Facet("type", [(v, str(types.get(v, v)), n) for v, n in top("type")]),
        Facet("from", [(v, v, n) for v, n in top("from")]),
        Facet("year", [(str(v), str(v), n) for v, n in top("year")]),
        Facet("tag", [(v, v, n) for v, n in top("tag")]),
        Facet("classification", [(Level(v).key, str(levels.get(v, v)), n) for v, n in top("classification")]),
    ]


def snippet(text: str, stems: set[str], prefixes: Sequence[str], language: str) -> SafeString:
    """About SNIPPET_WORDS words of `text` around the densest run of matches, matches marked."""
    if not text:
        return mark_safe("")
    found = list(analysis.tokens(text[:200_000]))
    if not found:
        return mark_safe("")

    def hit(token: analysis.Token) -> bool:
        if any(token.folded.startswith(p) for p in prefixes):
            return True
        return bool(stems) and analysis.stem(token.folded, language) in stems

    marks = [i for i, token in enumerate(found) if hit(token)]
    start = 0
    if marks:
        best = max(marks, key=lambda i: sum(1 for j in marks if i <= j < i + SNIPPET_WORDS))
        start = max(0, best - 5)
    end = min(len(found), start + SNIPPET_WORDS)
    chosen = set(marks)
    pieces: list[str] = ["… " if start > 0 else ""]
    cursor = found[start].start
    for index in range(start, end):
        token = found[index]
        pieces.append(escape(text[cursor : token.start]))
        word = escape(text[token.start : token.end])
        pieces.append(f"<mark>{word}</mark>" if index in chosen else word)
        cursor = token.end
    if end < len(found):
        pieces.append(" …")
    return mark_safe(" ".join("".join(pieces).split()))  # noqa: S308 - every piece of text is escaped


def search(
    user: User | Any,
    q: str,
    *,
    page: int = 1,
    sort: str = "relevance",
    per_page: int = PER_PAGE,
    with_facets: bool = True,
    with_snippets: bool = True,
) -> Results:
    """The search page and the API: one page of results, the total and the facets."""
    query = parse(q)
    sort = sort if sort in SORTS else "relevance"
    results = Results(query=query, sort=sort)
    if query.is_empty:
        return results
    qs, clauses = matching(user, query)
    rows = list(qs.values_list(*_ROW))
    results.total = len(rows)
    results.pages = min(MAX_PAGE, (results.total + per_page - 1) // per_page)
    results.page = max(1, min(int(page or 1), results.pages or 1))
    offset = (results.page - 1) * per_page
    if with_facets:
        results.facets = _facets(rows)
    if not rows:
        return results
    if clauses and sort == "relevance":
        readable = {row[0] for row in rows}
        ids = list(
            itertools.islice((i for i in get_backend().ranked(clauses) if i in readable), offset, offset + per_page)
        )
    else:
        oldest = sort == "oldest"
        rows.sort(key=lambda row: (row[6] is not None, row[6] or date.min, row[0]), reverse=not oldest)
        ids = [row[0] for row in rows[offset : offset + per_page]]
    results.hits = _hits(user, query, ids, with_snippets=with_snippets)
    return results


def _hits(user: User | Any, query: Query, ids: list[int], *, with_snippets: bool) -> list[Hit]:
    # `ids` come from the gated query; each object is fetched again through its own gate below.
    docs = {d.pk: d for d in SearchDocument.objects.unrestricted("ids read through the gate").filter(pk__in=ids)}
    by_type: dict[str, list[int]] = defaultdict(list)
    for doc in docs.values():
        by_type[doc.doc_type].append(doc.object_id)
    objects = {t: adapter(t).visible(user, object_ids) for t, object_ids in by_type.items()}
    stems, prefixes = query.highlight_words()
    hits: list[Hit] = []
    for pk in ids:
        found = docs.get(pk)
        obj = objects.get(found.doc_type, {}).get(found.object_id) if found else None
        if found is None or obj is None:
            continue  # gone or out of scope since it was indexed: never shown
        shown = adapter(found.doc_type).show(obj, with_text=with_snippets)
        language = found.language or "fr"
        text = shown.text or ""
        cut = snippet(text, stems, prefixes, language) if with_snippets else mark_safe("")
        hits.append(
            Hit(
                doc_type=found.doc_type,
                object_id=found.object_id,
                title=shown.title,
                url=shown.url,
                reference=shown.reference,
                subject=shown.subject,
                snippet=cut,
                unit=shown.unit,
                dated=shown.dated,
                classification=found.classification,
                compartments=shown.compartments,
                protected=found.protected,
            )
        )
    return hits


def count(user: User | Any, q: str) -> int:
    """How many documents `user` may read match `q` (saved searches, lists)."""
    query = parse(q)
    if query.is_empty:
        return 0
    return matching(user, query)[0].count()


def matching_object_ids(user: User | Any, q: str, *, doc_type: str, limit: int = 10) -> list[int]:
    """Ids of the objects of one type that `user` may read matching `q`, best first
    (type-aheads: e.g. the citation field)."""
    query = parse(q)
    if not query.must:
        return []
    query.filters["type"] = [doc_type]
    qs, clauses = matching(user, query)
    rows = dict(qs.values_list("id", "object_id"))
    ranked = (rows[i] for i in get_backend().ranked(clauses) if i in rows)
    return list(itertools.islice(ranked, limit))
