"""Site-wide views: home, language switch, health and error pages."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django.views.i18n import set_language as django_set_language

from chancery.core.selectors import home_summary


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    if isinstance(user, AnonymousUser):  # LoginRequiredMiddleware keeps visitors out; typed here
        raise Http404("not found")
    summary = home_summary(user=user)
    return render(request, "core/home.html", {"summary": summary, "marking": summary["marking"]})


@login_not_required
@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; remembered on the agent's profile too."""
    response = django_set_language(request)
    language = request.POST.get("language", "")
    user = request.user
    if user.is_authenticated and language in {code for code, _name in settings.LANGUAGES}:
        from django.contrib.auth import get_user_model

        get_user_model().objects.unrestricted("own profile").filter(
            pk=user.pk
        ).update(preferred_language=language)
    return response


@login_not_required
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"code": {404: "not_found", 403: "forbidden", 500: "server_error"}.get(status, "error"),
                             "message": message}, status=status)
    return render(request, "core/error.html", {"title": title, "message": message}, status=status)


@login_not_required
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, _("Not found"), _("This page does not exist or you may not see it."))


@login_not_required
def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, _("Not allowed"), _("You may not do this."))


@login_not_required
def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, _("Something went wrong"), _("The error was recorded. Please try again later."))


@login_not_required
def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    message = _("The form expired or was sent from elsewhere. Reload the page and try again.")
    return _error(request, 403, _("Form expired"), message)
