"""Reading the index for one user: results, counts, facets and snippets.

Everything starts from `SearchDocument.objects.visible_to(user)` — the gating object's own
`visible_to` — so a hidden document changes no number the reader sees: the total, every
facet count and every page are computed over that queryset only; result objects are then
fetched again through their own model's gate before anything about them is shown.
Snippets are cut from the clear text decrypted on the fly for these objects only.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import F, Q, QuerySet
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chancery.accounts.models import User
from chancery.core.classification import Level, Marking
from chancery.correspondence.content import TAG_PURPOSE, tag_patterns
from chancery.correspondence.models import narrow_gate_scope
from chancery.crypto import keyed
from chancery.search import analysis
from chancery.search.adapters import adapter
from chancery.search.adapters.base import Shown
from chancery.search.backends import get_backend
from chancery.search.models import DocumentType, SearchDocument, key_range
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
    capped: bool = False  # `total` is the cap: there are at least that many (see COUNT_CAP)

    @property
    def marking(self) -> Marking | None:
        """The banner of the page: the highest marking shown and every caveat shown."""
        if not self.hits:
            return None
        level = max(h.classification for h in self.hits)
        return Marking.of(level, {c for h in self.hits for c in h.compartments})

    @property
    def approximate(self) -> bool:
        """Ranked among the reader's newest matches only (see `_window`): say so, and invite
        a narrower search."""
        return self.capped and self.sort == "relevance" and bool(self.query.must)

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def _clauses(query: Query, hasher: Hasher | None, which: Sequence[Any]) -> list[list[Any]]:
    return [alternatives(clause, hasher) for clause in which]


def filtered(user: User | Any, query: Query, *, exclusions: bool = True) -> QuerySet[SearchDocument]:
    """Visible documents meeting the query's filters and (unless the caller's engine walk
    applies them: `exclusions=False`) its exclusions; not yet its words."""
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
    if query.must_not and exclusions:
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


# The total and the facets count the reader's matches up to this many (the first of them
# in the order of the results): beyond, "1,000 or more" (50 pages of PER_PAGE). Counting
# every match of a very common word through the gate costs many times what ranking them
# costs the engine. Nothing the reader may not read is ever counted.
COUNT_CAP = 1000


@dataclass
class Pass:
    """What one gated pass over the matches returns."""

    ids: list[int]  # the page, in order
    groups: list[tuple[Any, ...]]  # facet groups and their counts (_GROUP + count)
    counted: int  # matches counted (at most the cap)
    capped: bool  # there may be more
    kept: int = 0  # readable matches kept (at most the cap)


_ORDER = {
    # (direction of the sort key, of the id): relevance = rank (lower is better), then newest.
    "relevance": ("ASC", "DESC"),
    "date": ("DESC NULLS LAST", "DESC"),
    "oldest": ("ASC NULLS FIRST", "ASC"),
}


# A reader whose need to know covers at most this many access-index rows has the candidates
# of a search narrowed to the documents of those dispatches first (by index, once per
# statement), before the gate: walking the matches of a common word through the gate until
# the window is full would cost a counsellor (who reads a few thousandths of the corpus)
# hundreds of thousands of gate probes. Listing the scope costs about a microsecond a row,
# a gate probe a few: at 100,000 dispatches a reader of 17,500 (director.dab) is faster
# walked (50 ms of CPU against 75 for "poste"), a reader of 536 narrowed (55 against 300);
# at a million, a counsellor's 5,000 rows must still be narrowed.
NARROW_SCOPE = 10_000
# Very common words. Ranking every match of a word that most documents hold ("poste":
# 80 % of the corpus) costs the engine itself more than a search may take, whatever the
# gate. So a search ranks a bounded candidate set, as real engines do for top-k: the reader's
# newest matches (highest document id, which is a recency key — `models.document_key` —
# and the order the engine stores them in, so walking them costs about one step per
# candidate and nothing is sorted), walked through the filters and
# the gate until `_window` readable ones (the count's cap) are kept; only those are ranked.
# With fewer readable matches than that, every one is ranked: the results are exact. With
# more, the page holds the best of the reader's newest `_window` matches, and the total says
# "or more": refine the search (or sort by date) for the older ones.
# The window is made of readable documents only, so a hidden document changes neither which
# documents are ranked nor any count.
def _window(offset: int, limit: int, size: int | None = None) -> int:
    return max(size or COUNT_CAP, offset + limit)


# Type-aheads (suggestions, completions, the citation field) rank the best of the reader's
# newest this many matches: they show a handful, count nothing, and run at each keystroke.
TYPEAHEAD_WINDOW = 200


def _narrowed(user: User | Any) -> tuple[str, list[Any]] | None:
    """SQL of the ids of the documents within the reader's need to know (a superset of
    what the gate lets through: the documents of the dispatches of `gate_scope`, and of the
    programmes the reader may read), or None when the scope is wide or not in the access
    index. Built as a UNION of indexed lookups, one per kind of access row: an OR would
    scan the access index and the whole index of documents at every search."""
    from chancery.planning.models import Programme

    scope = narrow_gate_scope(user, NARROW_SCOPE)
    if scope is None:
        return None
    documents = SearchDocument.objects.unrestricted("narrowing only: the gate is applied after it")
    parts = [documents.filter(dispatch_id__in=rows.values("dispatch_id")).values("id") for rows in scope]
    parts.append(documents.filter(programme_id__in=Programme.objects.visible_to(user).values("pk")).values("id"))
    sql, params = parts[0].union(*parts[1:], all=True).query.sql_with_params()
    return sql, list(params)


def gated_pass(
    user: User | Any,
    query: Query,
    *,
    sort: str,
    offset: int,
    limit: int,
    count: bool = True,
    cap: int | None = None,
    window: int | None = None,
) -> Pass:
    """One page of the reader's matches, and (with `count`) the total and facet groups of
    their first `cap` — in ONE statement, so the gate is evaluated once per candidate:

    - with words: the reader's matches are walked in the engine's order (newest first;
      oldest first for "oldest") through the filters and the gate
      (`SearchDocument.objects.visible_to`: each gating object's own `visible_to`, a
      correlated indexed EXISTS) until `_window` (relevance) or `cap` (by date) are kept;
      by relevance the engine ranks those (see the note above); a reader with a small
      scope has the candidates narrowed first (`_narrowed`);
    - filters only: the gated, filtered queryset ordered by date in SQL, the first `cap` kept;
    then the page is cut from those kept and the facets grouped over them.
    """
    clauses = _clauses(query, Hasher(), query.must) if query.must else []
    cap = max(cap or COUNT_CAP, offset + limit) if count else offset + limit
    if clauses:
        # Relevance: the page must not depend on whether it is counted, the window is the
        # same. By date, the walk is the order itself: the first `cap` are exact.
        size = _window(offset, limit, window) if sort == "relevance" else cap
        return _walk_pass(user, query, clauses, _narrowed(user), size, offset, limit, count, sort)
    key_direction, id_direction = _ORDER["date"]
    qs = matching(user, query)[0]
    ascending = key_direction.startswith("ASC")
    dated = F("dated").asc(nulls_first=True) if ascending else F("dated").desc(nulls_last=True)
    ordered = qs.order_by(dated, F("id").asc() if id_direction == "ASC" else F("id").desc())
    kept_sql, kept_params = ordered.values("id", "dated")[:cap].query.sql_with_params()
    kept = f"g AS MATERIALIZED (SELECT x.id AS id, x.dated AS k FROM ({kept_sql}) x)"  # noqa: S608 - ORM SQL
    return _run_pass(kept, list(kept_params), "date", offset, limit, count, cap)


def _key_range(query: Query) -> tuple[int | None, int | None]:
    """The document ids the query's date filters allow (see `models.key_range`)."""
    first: date | None = query.filters.get("after")
    last: date | None = query.filters.get("before")
    year = query.filters.get("year")
    if year is not None and 1 <= int(year) < 9999:
        first = max(first or date.min, date(int(year), 1, 1))
        last = min(last or date.max, date(int(year), 12, 31))
    return key_range(first, last)


def _walk_pass(
    user: User | Any,
    query: Query,
    clauses: list[list[Any]],
    narrowed: tuple[str, list[Any]] | None,
    window: int,
    offset: int,
    limit: int,
    count: bool,
    sort: str,
) -> Pass:
    """The matches walked in the engine's order — document ids, i.e. recency keys
    (`models.document_key`), newest first or, for "oldest", oldest first — through the
    filters and the gate until `window` are kept; then ranked (relevance) or kept in that
    order (by date: an id orders documents by their date, then by type and object)."""
    backend = get_backend()
    excluded = _clauses(query, Hasher(), query.must_not)
    newest_sql, newest_params = backend.newest_matches(clauses, excluded)
    within = filtered(user, query, exclusions=False).extra(where=['"search_searchdocument"."id" = f.id'])
    within_sql, within_params = within.order_by().values("id").query.sql_with_params()
    params: list[Any] = [*newest_params]
    # A date filter bounds the walk itself (ids are recency keys): the engine seeks the
    # range in each term's list instead of stepping through every newer or older match.
    scope = ""
    for bound, operator in zip(_key_range(query), (">=", "<"), strict=True):
        if bound is not None:
            scope += f"f.id {operator} %s AND "
            params.append(bound)
    if narrowed is not None:
        # Only the candidates within the reader's scope reach the gate (see
        # `SearchBackend.filter_column`: a filter, never the engine's own constraint).
        scope += f"{backend.filter_column('f.id')} IN ({narrowed[0]}) AND "
        params += narrowed[1]
    walk = "ASC" if sort == "oldest" else "DESC"
    if sort == "relevance":
        ranked_sql, ranked_params = backend.ranked_among(clauses, "c")
        ordered = f"SELECT r.id AS id, r.rank AS k FROM ({ranked_sql}) r"  # noqa: S608 - engine SQL
    else:
        ordered, ranked_params = "SELECT c.id AS id, c.id AS k FROM c", []
    kept = (
        f"c AS MATERIALIZED (SELECT f.id AS id FROM ({newest_sql}) f "  # noqa: S608 - engine and ORM SQL
        f"WHERE {scope}EXISTS ({within_sql}) ORDER BY f.id {walk} LIMIT %s), "
        f"g AS MATERIALIZED ({ordered})"
    )
    params += [*within_params, window, *ranked_params]
    return _run_pass(kept, params, sort, offset, limit, count, window)


def _run_pass(kept: str, params: list[Any], sort: str, offset: int, limit: int, count: bool, cap: int) -> Pass:
    """The statement over `kept` (CTEs defining `g(id, k)`, the kept matches in order)."""
    key_direction, id_direction = _ORDER[sort]
    parts = [
        "SELECT 0, p.id, p.n, NULL, NULL, NULL, NULL, NULL, NULL FROM "  # noqa: S608 - fixed SQL
        f"(SELECT g.id AS id, ROW_NUMBER() OVER (ORDER BY g.k {key_direction}, g.id {id_direction}) AS n FROM g) p "
        "WHERE p.n > %s AND p.n <= %s",
        "SELECT 2, (SELECT COUNT(*) FROM g), NULL, NULL, NULL, NULL, NULL, NULL, NULL",
    ]
    params = [*params, offset, offset + limit]
    if count:
        # First: PostgreSQL types the columns of a UNION from its branches left to right,
        # and would type the other branches' NULLs as text.
        columns = ", ".join(f"d.{column}" for column in _GROUP)
        parts.insert(
            0,
            f"SELECT 1, NULL, NULL, {columns}, COUNT(*) FROM g "  # noqa: S608 - fixed column names
            f"JOIN search_searchdocument d ON d.id = g.id GROUP BY {columns}",
        )
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {kept} " + " UNION ALL ".join(parts), params)
        rows = cursor.fetchall()
    page = sorted((row[2], row[1]) for row in rows if row[0] == 0)
    groups = [tuple(row[3:]) for row in rows if row[0] == 1]
    sizes = next(row for row in rows if row[0] == 2)
    kept_count = int(sizes[1])
    return Pass(
        ids=[pk for _n, pk in page],
        groups=groups,
        counted=kept_count,
        capped=count and kept_count >= cap,
        kept=kept_count,
    )


# A snippet is cut from the first this many characters of a document: enough for the
# densest run of matches of any ordinary text, and a long attachment's text costs no more.
SNIPPET_SCAN = 20_000


def snippet(text: str, stems: set[str], prefixes: Sequence[str], language: str) -> SafeString:
    """About SNIPPET_WORDS words of `text` around the densest run of matches, matches marked."""
    if not text:
        return mark_safe("")
    found = list(analysis.tokens(text[:SNIPPET_SCAN]))
    if not found:
        return mark_safe("")
    hits: dict[str, bool] = {}  # per distinct word: a text repeats its vocabulary

    def hit(folded: str) -> bool:
        known = hits.get(folded)
        if known is None:
            known = any(folded.startswith(p) for p in prefixes) or (
                bool(stems) and analysis.stem(folded, language) in stems
            )
            hits[folded] = known
        return known

    marks = [i for i, token in enumerate(found) if hit(token.folded)]
    start = 0
    if marks:
        # The window of SNIPPET_WORDS words holding the most marks (two pointers: linear).
        best, most, last = marks[0], 0, 0
        for first, position in enumerate(marks):
            while last < len(marks) and marks[last] < position + SNIPPET_WORDS:
                last += 1
            if last - first > most:
                best, most = position, last - first
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
    if end < len(found) or len(text) > SNIPPET_SCAN:
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
    window: int | None = None,
) -> Results:
    """The search page and the API: one page of results, the total and the facets.
    `window`: how many of the reader's newest matches a relevance search ranks (see
    `_window`; the count's cap by default, less for type-aheads)."""
    query = parse(q)
    sort = sort if sort in SORTS else "relevance"
    results = Results(query=query, sort=sort)
    if query.is_empty:
        return results
    per_page = max(1, int(per_page))
    requested = max(1, min(int(page or 1), MAX_PAGE))
    counting = with_facets or with_total
    offset = (requested - 1) * per_page
    found = gated_pass(user, query, sort=sort, offset=offset, limit=per_page, count=counting, window=window)
    if counting:
        results.total, counters = _facet_counters(found.groups)
        results.capped = found.capped
        if with_facets:
            results.facets = _facets(counters)
        results.pages = min(MAX_PAGE, (results.total + per_page - 1) // per_page)
        results.page = max(1, min(requested, results.pages or 1))
        if not results.total:
            return results
        if results.page != requested:  # asked beyond the last page: show the last one
            offset = (results.page - 1) * per_page
            found = gated_pass(user, query, sort=sort, offset=offset, limit=per_page, count=False, window=window)
    else:
        results.page = requested
    results.hits = _hits(user, query, found.ids, with_snippets=with_snippets)
    return results


def _shown(user: User | Any, ids: list[int], *, with_text: bool) -> Iterator[tuple[SearchDocument, Shown]]:
    """The documents of `ids` (from the gated query), in order, each with its object as the
    reader sees it; objects are fetched again through their own gate, once per type."""
    docs = {d.pk: d for d in SearchDocument.objects.unrestricted("ids read through the gate").filter(pk__in=ids)}
    by_type: dict[str, list[SearchDocument]] = defaultdict(list)
    for doc in docs.values():
        by_type[doc.doc_type].append(doc)
    # Once per type, in bulk, through the type's gate (and its keys unwrapped together).
    objects = {t: adapter(t).page(user, type_docs) for t, type_docs in by_type.items()}
    for pk in ids:
        found = docs.get(pk)
        obj = objects.get(found.doc_type, {}).get(found.object_id) if found else None
        if found is None or obj is None:
            continue  # gone or out of scope since it was indexed: never shown
        yield found, adapter(found.doc_type).show(obj, with_text=with_text)


def _hits(user: User | Any, query: Query, ids: list[int], *, with_snippets: bool) -> list[Hit]:
    stems, prefixes = query.highlight_words()
    hits: list[Hit] = []
    for found, shown in _shown(user, ids, with_text=with_snippets):
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
    ids = gated_pass(user, query, sort="relevance", offset=0, limit=limit, count=False, window=TYPEAHEAD_WINDOW).ids
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
        found = search(
            user, q, per_page=limit, with_facets=False, with_snippets=False, with_total=False, window=TYPEAHEAD_WINDOW
        )
        for hit in found.hits:
            if all((h.doc_type, h.object_id) != (hit.doc_type, hit.object_id) for h in hits):
                hits.append(hit)
        if len(hits) >= limit:
            break
    return hits[:limit]


COMPLETIONS = 5
COMPLETION_SOURCES = 20  # documents whose words complete the one being typed


def complete(user: User | Any, text: str, *, limit: int = COMPLETIONS) -> list[str]:
    """Whole words completing the last word `user` is typing (`visi` → `visite`,
    `visiteurs`), most frequent first.

    The index cannot offer them: its vocabulary holds the words of every document, and a
    protected document's words only as keyed hashes, which cannot be completed (and must
    not be: a completion would reveal a word of a document the reader may not read). So
    the words come from the text of the reader's own best matches for the prefix — the
    documents `search` returns through the gate, read (decrypted) as their results are —
    and nothing else: a hidden document changes no completion.
    """
    text = " ".join(str(text or "").split())[:200]
    last = text.rsplit(" ", 1)[-1]
    if len(last) < 2 or not last.isalnum():
        return []
    prefix = analysis.fold(last)
    query = parse(f"{text}*")
    if not query.must:
        return []
    sources = gated_pass(
        user, query, sort="relevance", offset=0, limit=COMPLETION_SOURCES, count=False, window=TYPEAHEAD_WINDOW
    )
    ids = sources.ids
    documents: Counter[str] = Counter()  # folded word -> documents holding it
    written: dict[str, Counter[str]] = defaultdict(Counter)  # folded word -> its written forms
    for _doc, shown in _shown(user, ids, with_text=True):
        seen: set[str] = set()
        for part in (shown.title, shown.subject or "", shown.text[:SNIPPET_SCAN]):
            for token in analysis.tokens(part):
                if len(token.folded) > len(prefix) and token.folded.startswith(prefix):
                    seen.add(token.folded)
                    written[token.folded][token.text.lower()] += 1
        documents.update(seen)
    ranked = sorted(documents, key=lambda word: (-documents[word], word))
    return [written[word].most_common(1)[0][0] for word in ranked[:limit]]
