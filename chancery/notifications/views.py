"""The agent's notifications: a list, a navbar counter polled by HTMX, mark as read."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from chancery.accounts.access import agent
from chancery.core.lists import OneStatementPaginator
from chancery.notifications import selectors, services


@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    unread_only = request.GET.get("unread") == "1"
    notifications = selectors.notifications_for(user=agent(request), unread_only=unread_only)
    page = OneStatementPaginator(notifications, 30).get_page(request.GET.get("page"))
    rows = selectors.with_details(user=agent(request), notifications=page.object_list)
    return render(request, "notifications/list.html", {"page": page, "rows": rows, "unread_only": unread_only})


@require_GET
def counter(request: HttpRequest) -> HttpResponse:
    response = render(request, "notifications/_counter.html", {"unread": selectors.unread_count(user=agent(request))})
    # A background poll is not activity: do not store the "last seen" stamp the session
    # middleware just refreshed, or polling would defeat the inactivity timeout.
    request.session.modified = False
    return response


@require_GET
def open_notification(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way."""
    notification = selectors.notification_detail(user=agent(request), pk=notification_id)
    services.mark_read(user=request.user, notification=notification)  # type: ignore[arg-type]
    url = notification.url
    if not url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}):
        url = "/"
    return redirect(url)


@require_POST
def mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    notification = selectors.notification_detail(user=agent(request), pk=notification_id)
    services.mark_read(user=request.user, notification=notification)  # type: ignore[arg-type]
    if request.htmx:  # type: ignore[attr-defined]
        rows = selectors.with_details(user=agent(request), notifications=[notification])
        response = render(request, "notifications/_row.html", {"rows": rows})
        response["HX-Trigger"] = "notifications-changed"
        return response
    return redirect("notifications:list")


@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    services.mark_all_read(user=request.user)  # type: ignore[arg-type]
    return redirect("notifications:list")
