"""The search page, saved searches. Thin: one selector or service call each."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chancery.core.gate import get_visible_or_404
from chancery.search import saved as saved_services
from chancery.search.forms import SaveSearchForm
from chancery.search.models import SavedSearch
from chancery.search.selectors import FACET_SIZE, Results, complete, search, suggest

FACET_LABELS = {
    "type": _("Type"),
    "from": _("Unit"),
    "year": _("Year"),
    "tag": _("Tag"),
    "classification": _("Marking"),
}


def _page_number(value: Any) -> int:
    try:
        return max(1, min(int(value), 10_000))
    except (TypeError, ValueError):
        return 1


def _link(q: str, sort: str, page: int | None = None) -> str:
    params: dict[str, Any] = {"q": q}
    if sort != "relevance":
        params["sort"] = sort
    if page and page > 1:
        params["page"] = page
    return "?" + urlencode(params)


def _facet_links(results: Results, q: str) -> list[dict[str, Any]]:
    """Each facet value as a link that adds its filter to the query (or, when applied, removes it)."""
    groups = []
    for facet in results.facets:
        values = []
        for value, label, count in facet.values:
            token = f'{facet.name}:"{value}"' if " " in value else f"{facet.name}:{value}"
            active = token in q.split()
            new_q = " ".join(t for t in q.split() if t != token) if active else f"{q} {token}".strip()
            values.append({"label": label, "count": count, "href": _link(new_q, results.sort), "active": active})
        if values:
            groups.append(
                {
                    "name": facet.name,
                    "label": FACET_LABELS.get(facet.name, facet.name),
                    "values": values[:FACET_SIZE],
                    "more": values[FACET_SIZE:],
                }
            )
    return groups


@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:5000]
    scope = request.GET.get("scope", "")[:200]
    if scope:
        # From a list's search box: the list's scope becomes part of the (shareable) query.
        return redirect(reverse("search:search") + _link(f"{q} {scope}".strip(), "relevance"))
    sort = request.GET.get("sort", "relevance")
    results = search(request.user, q, page=_page_number(request.GET.get("page")), sort=sort)
    saved_services.record_protected_snippets(user=request.user, results=results, request=request)  # type: ignore[arg-type]
    context = {
        "q": q,
        "results": results,
        "facets": _facet_links(results, q),
        "marking": results.marking,
        "sorts": [("relevance", _("Relevance")), ("date", _("Newest first")), ("oldest", _("Oldest first"))],
        "previous_url": _link(q, results.sort, results.page - 1) if results.has_previous else "",
        "next_url": _link(q, results.sort, results.page + 1) if results.has_next else "",
        "save_form": SaveSearchForm(initial={"query": q}),
        "saved": SavedSearch.objects.visible_to(request.user)[:50],
    }
    return render(request, "search/search.html", context)


@require_GET
def suggestions(request: HttpRequest) -> HttpResponse:
    """The header box's type-ahead (a fragment): documents the reader may read, as they type."""
    q = request.GET.get("q", "")[:200]
    hits = suggest(request.user, q)
    typed = " ".join(q.split())
    stem = typed[: len(typed) - len(typed.rsplit(" ", 1)[-1])]
    # Whole words completing the one being typed, from the reader's readable matches only.
    completions = [(word, _link(stem + word, "relevance")) for word in complete(request.user, typed)]
    context = {"q": q.strip(), "hits": hits, "completions": completions, "search_url": _link(q, "relevance")}
    return render(request, "search/_suggestions.html", context)


@require_http_methods(["GET", "POST"])
def saved_list(request: HttpRequest) -> HttpResponse:
    form = SaveSearchForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = saved_services.save_search(
                owner=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
                query=form.cleaned_data["query"],
                notify=form.cleaned_data["notify"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("The search “%(name)s” was saved.") % {"name": saved.name})
            return redirect("search:saved_list")
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "saved": SavedSearch.objects.visible_to(request.user)}
    return render(request, "search/saved_list.html", context, status=status)


@require_GET
def saved_run(request: HttpRequest, pk: int) -> HttpResponse:
    saved: SavedSearch = get_visible_or_404(SavedSearch.objects.all(), request.user, pk=pk)
    return redirect(reverse("search:search") + _link(saved.query, "date"))


@require_POST
def saved_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved: SavedSearch = get_visible_or_404(SavedSearch.objects.all(), request.user, pk=pk)
    saved_services.delete_saved_search(owner=request.user, saved=saved)  # type: ignore[arg-type]
    messages.success(request, _("The saved search was deleted."))
    return redirect("search:saved_list")
