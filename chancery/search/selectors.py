"""Reading the index for one user: results, counts, facets and snippets.

Everything starts from `SearchDocument.objects.visible_to(user)` — the gating object's own
`visible_to` — so a hidden document changes no number the reader sees: the total, every
facet count and every page are computed over that queryset only; result objects are then
fetched again through their own model's gate before anything about them is shown.
Snippets are cut from the clear text decrypted on the fly for these objects only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, F, Q, QuerySet
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


# The facets and the total come from ONE gated aggregate: the matching documents the reader
# may read, grouped by the facet columns (a few hundred groups at most, never one row per
# document), so the gate is evaluated once and no visible set is materialised in Python.
_GROUP = ("doc_type", "unit_code", "year", "classification", "tags_index")


def _facet_counters(groups: Sequence[tuple[Any, ...]]) -> tuple[int, dict[str, Counter[Any]]]:
    counters: dict[str, Counter[Any]] = {name: Counter() for name in ("type", "from", "year", "tag", "classification")}
    total = 0
    for doc_type, unit_code, year, classification, tags_index, n in groups:
        total += n
        counters["type"][doc_type] += n
        if unit_code:
            counters["from"][unit_code] += n
        if year:
            counters["year"][year] += n
        counters["classification"][classification] += n
        for tag in dict.fromkeys(t for t in (tags_index or "").split("|") if t):
            counters["tag"][tag] += n
    # Protected documents carry keyed tokens: name those the reader's own rows hold, and
    # count them with the clear tag of the same name.
    names = keyed.unseal_terms(TAG_PURPOSE, counters["tag"])
    for token_, name in names.items():
        counters["tag"][name] += counters["tag"].pop(token_)
    for stray in [t for t in counters["tag"] if keyed.is_token(t)]:
        del counters["tag"][stray]
    return total, counters


def _facets(counters: dict[str, Counter[Any]]) -> list[Facet]:
    """Every value of every facet with its full count, most frequent first (the page shows
    the first FACET_SIZE and folds the rest under "more")."""

    def ordered(name: str) -> list[tuple[Any, int]]:
        return sorted(counters[name].items(), key=lambda item: (-item[1], str(item[0])))

    types = dict(DocumentType.choices)
    levels = {int(level): level.label for level in Level}
    return [
        Facet("type", [(v, str(types.get(v, v)), n) for v, n in ordered("type")]),
        Facet("from", [(v, v, n) for v, n in ordered("from")]),
        Facet("year", [(str(v), str(v), n) for v, n in ordered("year")]),
        Facet("tag", [(v, v, n) for v, n in ordered("tag")]),
        Facet("classification", [(Level(v).key, str(levels.get(v, v)), n) for v, n in ordered("classification")]),
    ]


def _page_ids(qs: QuerySet[SearchDocument], clauses: list[list[Any]], sort: str, offset: int, limit: int) -> list[int]:
    """One page of gated matches, ordered in SQL (the gate is part of the same statement)."""
    if clauses and sort == "relevance":
        return get_backend().ranked_page(clauses, qs, offset=offset, limit=limit)
    if sort == "oldest":
        order = [F("dated").asc(nulls_first=True), F("id").asc()]
    else:
        order = [F("dated").desc(nulls_last=True), F("id").desc()]
    return list(qs.order_by(*order).values_list("id", flat=True)[offset : offset + limit])


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
    with_total: bool = True,
) -> Results:
    """The search page and the API: one page of results, the total and the facets."""
    query = parse(q)
    sort = sort if sort in SORTS else "relevance"
    results = Results(query=query, sort=sort)
    if query.is_empty:
        return results
    qs, clauses = matching(user, query)
    if with_facets:
        groups = list(qs.order_by().values_list(*_GROUP).annotate(n=Count("id")))
        results.total, counters = _facet_counters(groups)
        results.facets = _facets(counters)
    elif with_total:
        results.total = qs.count()
    if with_total or with_facets:
        results.pages = min(MAX_PAGE, (results.total + per_page - 1) // per_page)
        results.page = max(1, min(int(page or 1), results.pages or 1))
        if not results.total:
            return results
    else:
        results.page = max(1, min(int(page or 1), MAX_PAGE))
    offset = (results.page - 1) * per_page
    ids = _page_ids(qs, clauses, sort, offset, per_page)
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
    ids = get_backend().ranked_page(clauses, qs, offset=0, limit=limit)
    docs = SearchDocument.objects.unrestricted("ids read through the gate").filter(pk__in=ids)
    found = dict(docs.values_list("id", "object_id"))
    return [found[i] for i in ids if i in found]


SUGGESTIONS = 8


def suggest(user: User | Any, text: str, *, limit: int = SUGGESTIONS) -> list[Hit]:
    """Documents to offer while `user` types `text` in a search box (the header box).

    The word being typed is completed as a prefix (`visi` → `visi*`), and a single
    reference-like token also matches references (`ref:`). Everything goes through
    `search` — the same gate as results — so a hidden document changes no suggestion; the
    subject is only shown for documents the reader may read (the only ones returned).
    """
    text = " ".join(str(text or "").split())[:200]
    if len(text) < 2:
        return []
    typed = text
    last = text.rsplit(" ", 1)[-1]
    if last and not last.endswith(("*", '"')) and ":" not in last and last.isalnum():
        typed = f"{text}*"
    hits: list[Hit] = []
    tries = [typed]
    if " " not in text and any(c.isdigit() or c == "/" for c in text) and '"' not in text:
        tries.insert(0, f'ref:"{text}"')
    for q in tries:
        for hit in search(user, q, per_page=limit, with_facets=False, with_snippets=False, with_total=False).hits:
            if all((h.doc_type, h.object_id) != (hit.doc_type, hit.object_id) for h in hits):
                hits.append(hit)
        if len(hits) >= limit:
            break
    return hits[:limit]
