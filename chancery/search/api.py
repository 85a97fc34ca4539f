"""`GET /api/v1/search?q=…`: the search page's query language and results, through the same gate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from chancery.search.saved import record_protected_snippets
from chancery.search.selectors import PER_PAGE, search

router = Router(tags=["search"])


class HitOut(Schema):
    type: str
    id: int
    reference: str
    title: str
    subject: str | None = None
    date: dt.date | None = None
    unit: str
    url: str
    snippet: str


class FacetValueOut(Schema):
    value: str
    label: str
    count: int


class SearchOut(Schema):
    query: str
    total: int
    total_capped: bool  # `total` counts the first matches only: there are at least that many
    page: int
    pages: int
    sort: str
    warnings: list[str]
    results: list[HitOut]
    facets: dict[str, list[FacetValueOut]]


@router.get("/search", response=SearchOut)
def search_documents(request: HttpRequest, q: str = "", page: int = 1, sort: str = "relevance") -> Any:
    """Dispatches, attachments, actions, achievements and programmes you may read that match
    `q` (words, "phrases", -excluded, prefix*, from: to: ref: tag: by: type: after: before:
    year: classification:). `sort`: relevance, date or oldest. 20 results a page."""
    results = search(request.user, q[:5000], page=max(1, min(page, 10_000)), sort=sort, per_page=PER_PAGE)
    record_protected_snippets(user=request.user, results=results, request=request)  # type: ignore[arg-type]
    return {
        "query": results.query.raw,
        "total": results.total,
        "total_capped": results.capped,
        "page": results.page,
        "pages": results.pages,
        "sort": results.sort,
        "warnings": [str(w) for w in results.query.warnings],
        "results": [
            {
                "type": h.doc_type,
                "id": h.object_id,
                "reference": h.reference,
                "title": h.title,
                "subject": h.subject,
                "date": h.dated,
                "unit": h.unit,
                "url": h.url,
                "snippet": str(h.snippet),
            }
            for h in results.hits
        ],
        "facets": {
            f.name: [{"value": v, "label": label, "count": n} for v, label, n in f.values] for f in results.facets
        },
    }
