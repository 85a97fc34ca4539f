"""The auditor's pages: browse, filter and export the log. Nothing here edits or deletes an entry."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chancery.accounts.access import agent
from chancery.accounts.roles import Capability
from chancery.audit import selectors
from chancery.audit.forms import LogFilterForm
from chancery.audit.services import record_event
from chancery.core.access import require_capability

COLUMNS = ["sequence", "created_at", "actor", "action", "object_type", "object_id", "ip_address", "details", "hash"]


@require_GET
@require_capability(Capability.READ_AUDIT)
def event_list(request: HttpRequest) -> HttpResponse:
    form = LogFilterForm(request.GET or None)
    log_filter = form.log_filter()
    try:
        before = int(request.GET["before"]) if request.GET.get("before") else None
    except ValueError:
        before = None
    events, following = selectors.page_of_events(user=agent(request), log_filter=log_filter, before=before)
    for event in events:
        event.details_text = json.dumps(event.details, ensure_ascii=False, sort_keys=True)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("before", None)
    return render(request, "audit/event_list.html", {
        "form": form, "events": events, "following": following, "query": query.urlencode(),
        "first_page": before is None,
    })


class _Echo:
    def write(self, value: str) -> str:
        return value


@require_GET
@require_capability(Capability.READ_AUDIT)  # type: ignore[arg-type]  # a streamed response is a response too
def event_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered log as CSV (streamed; the export itself is an audited act)."""
    form = LogFilterForm(request.GET or None)
    log_filter = form.log_filter()
    record_event(action="audit.exported", actor=request.user, request=request, details=log_filter.as_details())
    events = selectors.events_for(user=agent(request), log_filter=log_filter)
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow(COLUMNS)
        for event in events.iterator(chunk_size=2000):
            yield writer.writerow([
                event.sequence, event.created_at.isoformat(), event.actor_label, event.action, event.object_type,
                event.object_id, event.ip_address or "", json.dumps(event.details, ensure_ascii=False), event.hash,
            ])

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response["Cache-Control"] = "no-store"
    return response
