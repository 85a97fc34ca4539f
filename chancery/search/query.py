"""The query language: any string is a valid query.

    words            every word must match (folded, stemmed in every candidate language)
    "exact phrase"   the words in this order (an unbalanced quote runs to the end)
    -word -"phrase"  excluded
    visit*           a word starting with `visit` (3 letters at least for protected text)
    from:LIMA  to:SG/4  ref:LIMA/2014  tag:TRADE  by:jdoe  type:dispatch
    after:2026-01-01  before:2026-12-31  year:2026  classification:restricted

Nothing typed reaches an engine as syntax: words are analysed into tokens of letters and
digits and the backends build their own expressions from them, so `NEAR`, `*`, `^`,
quotes, SQL or regular-expression characters are only text. Problems (an unknown field,
an invalid date, a query of only common words, a very long query) become `warnings`
shown to the user; the rest of the query still runs.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from chancery.core.classification import Level
from chancery.search import analysis
from chancery.search.models import DocumentType

MAX_QUERY = 1000  # characters kept of a query
MAX_CLAUSES = 24
MAX_PHRASE_VARIANTS = 8

FIELDS = ("from", "to", "ref", "tag", "by", "after", "before", "year", "classification", "type")
_FIELD_ALIASES = {"de": "from", "a": "to", "à": "to", "par": "by", "marking": "classification", "apres": "after"}
_TOKEN_RE = re.compile(r'(-?)(?:([^\s:"]+):)?("[^"]*"?|[^\s"]+)|(")')

_LEVEL_NAMES: dict[str, int] = {}
for _level in Level:
    _LEVEL_NAMES[_level.key] = int(_level)
    _LEVEL_NAMES[str(int(_level))] = int(_level)
_LEVEL_NAMES.update({"nonprotege": 0, "restreint": 1, "restreinte": 1, "confidentiel": 2, "secret": 3})
_TYPE_NAMES = {t.value: t.value for t in DocumentType}
_TYPE_NAMES.update(
    {
        "depeche": "dispatch",
        "piece": "attachment",
        "pj": "attachment",
        "realisation": "achievement",
        "plan": "programme",
    }
)


@dataclass(frozen=True)
class Alternative:
    """One engine-neutral way a clause can match: `column` is "terms" (stems) or "words"
    (folded words); `kind` "term" (one token), "phrase" (tokens in order) or "prefix"
    (one clear prefix)."""

    column: str
    kind: str
    tokens: tuple[str, ...]


@dataclass(frozen=True)
class Clause:
    """A word, phrase or prefix as typed; matched in clear or hashed form."""

    kind: str  # word / phrase / prefix
    words: tuple[str, ...]  # folded words, stop words dropped


@dataclass
class Query:
    raw: str
    must: list[Clause] = field(default_factory=list)
    must_not: list[Clause] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)
    warnings: list[Any] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return bool(self.must or self.must_not)

    @property
    def is_empty(self) -> bool:
        return not self.must and not self.must_not and not self.filters

    def highlight_words(self) -> tuple[set[str], list[str]]:
        """Stems and prefixes to highlight in snippets (the positive clauses only)."""
        stems: set[str] = set()
        prefixes: list[str] = []
        for clause in self.must:
            if clause.kind == "prefix":
                prefixes.append(clause.words[0])
            else:
                for word in clause.words:
                    stems.update(analysis.query_stems(word))
        return stems, prefixes


def _words(text: str) -> tuple[str, ...]:
    return tuple(token.folded for token in analysis.tokens(text) if not analysis.is_stopword(token.folded))


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    if re.fullmatch(r"\d{4}", value):
        return date(int(value), 1, 1)
    return None


def _add_filter(query: Query, name: str, value: str, negated: bool) -> None:
    value = value.strip().strip('"').strip()
    if not value:
        return
    if negated:
        query.warnings.append(_("Filters cannot be excluded with “-”: %(filter)s was applied.") % {"filter": name})
    if name in ("after", "before"):
        parsed = _parse_date(value)
        if parsed is None:
            query.warnings.append(
                _("“%(value)s” is not a date (write it as 2026-01-31); that filter was ignored.")
                % {"value": value[:40]}
            )
            return
        if name == "before" and re.fullmatch(r"\d{4}", value):
            parsed = date(parsed.year, 12, 31)
        query.filters[name] = parsed
    elif name == "year":
        if re.fullmatch(r"\d{4}", value):
            query.filters["year"] = int(value)
        else:
            query.warnings.append(_("“%(value)s” is not a year; that filter was ignored.") % {"value": value[:40]})
    elif name == "classification":
        level = _LEVEL_NAMES.get(analysis.fold(value).replace(" ", "").replace("_", ""))
        if level is None:
            query.warnings.append(_("“%(value)s” is not a marking; that filter was ignored.") % {"value": value[:40]})
        else:
            query.filters["classification"] = level
    elif name == "type":
        doc_type = _TYPE_NAMES.get(analysis.fold(value))
        if doc_type is None:
            query.warnings.append(_("“%(value)s” is not a type; that filter was ignored.") % {"value": value[:40]})
        else:
            query.filters.setdefault("type", [])
            if doc_type not in query.filters["type"]:
                query.filters["type"].append(doc_type)
    elif name == "tag":
        query.filters["tag"] = value.upper()[:60]
    elif name in ("from", "to"):
        query.filters[name] = value.upper()[:40]
    elif name == "ref":
        query.filters["ref"] = value.upper()[:200]
    elif name == "by":
        query.filters["by"] = value[:150]


def parse(raw: Any) -> Query:
    """The query for any string (never raises)."""
    text = str(raw or "").replace("\x00", " ")
    query = Query(raw=text[:MAX_QUERY])
    if len(text) > MAX_QUERY:
        query.warnings.append(
            _("The query was too long: only its first %(n)s characters were used.") % {"n": MAX_QUERY}
        )
    common_only = False
    for match in _TOKEN_RE.finditer(query.raw):
        minus, name, body, stray_quote = match.groups()
        if stray_quote:
            continue
        negated = bool(minus)
        if name is not None:
            key = _FIELD_ALIASES.get(analysis.fold(name), analysis.fold(name))
            if key in FIELDS:
                _add_filter(query, key, body, negated)
                continue
            query.warnings.append(
                _("“%(field)s:” is not a known filter; it was searched as words.") % {"field": name[:40]}
            )
            body = f"{name} {body}"
        quoted = body.startswith('"')
        if quoted:
            words = _words(body.strip('"'))
            clause = Clause("phrase" if len(words) > 1 else "word", words) if words else None
        elif body.endswith("*") and len(_words(body)) == 1 and not body.rstrip("*").endswith(("'", "-")):
            folded = [t.folded for t in analysis.tokens(body)]
            clause = Clause("prefix", (folded[0],)) if folded else None
        else:
            words = _words(body)
            clause = Clause("phrase" if len(words) > 1 else "word", words) if words else None
        if clause is None:
            if any(True for _t in analysis.tokens(body)):
                common_only = True
            continue
        target = query.must_not if negated else query.must
        if len(query.must) + len(query.must_not) >= MAX_CLAUSES:
            query.warnings.append(_("Only the first %(n)s words of the query were used.") % {"n": MAX_CLAUSES})
            break
        if clause not in target:
            target.append(clause)
    if common_only and not query.must:
        query.warnings.append(_("Very common words (such as “the” or “de”) are not searched."))
    return query


def alternatives(clause: Clause, hasher: Any) -> list[Alternative]:
    """The ways `clause` may match an indexed document: clear tokens, and the same tokens
    hashed under the index key (for protected documents)."""
    result: list[Alternative] = []
    if clause.kind == "prefix":
        word = clause.words[0]
        result.append(Alternative("words", "prefix", (word,)))
        if len(word) >= 3:
            result.append(Alternative("words", "term", (hasher.prefix(word),)))
        return result
    stem_sets = [analysis.query_stems(word) for word in clause.words]
    variants = list(itertools.islice(itertools.product(*stem_sets), MAX_PHRASE_VARIANTS))
    kind = "phrase" if len(clause.words) > 1 else "term"
    for variant in variants:
        result.append(Alternative("terms", kind, tuple(variant)))
        result.append(Alternative("terms", kind, tuple(hasher.term(t) for t in variant)))
    return result
