"""Sign-in in two steps (password, then second factor), enrolment, sign-out, profile."""

from __future__ import annotations

import time

import segno
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from chancery.accounts import services
from chancery.accounts.forms import LoginForm, SecondFactorForm
from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED
from chancery.accounts.models import User
from chancery.audit.services import client_ip, record_event

PENDING_USER = "chancery_pending_user"
PENDING_AT = "chancery_pending_at"
PENDING_NEXT = "chancery_pending_next"
PENDING_SECONDS = 300  # the second step must follow the first within five minutes


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()}):
        return candidate
    return "/"


def _pending_user(request: HttpRequest) -> User | None:
    user_id = request.session.get(PENDING_USER)
    started = request.session.get(PENDING_AT, 0)
    if not user_id or time.time() - started > PENDING_SECONDS:
        return None
    return User.objects.unrestricted("sign-in in progress").filter(pk=user_id, is_active=True).first()


def _complete_login(request: HttpRequest, user: User, *, second_factor: bool) -> HttpResponse:
    next_url = request.session.get(PENDING_NEXT, "/")
    login(request, user, backend="chancery.accounts.backends.ChanceryBackend")  # rotates the session key
    now = int(time.time())
    request.session[SESSION_STARTED] = now
    request.session[SESSION_SEEN] = now
    request.session[SESSION_SECOND_FACTOR] = second_factor
    if user.preferred_language:
        request.session["_language"] = user.preferred_language
    services.record_login_success(username=user.username, ip=client_ip(request))
    record_event(action="accounts.login", actor=user, target=user, request=request,
                 details={"second_factor": second_factor})
    response = redirect(_safe_next(request, next_url))
    from django.conf import settings

    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, user.preferred_language, samesite="Lax")
    return response


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = LoginForm(request.POST or None)
    expired = request.session.pop("chancery_expired", False)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        ip = client_ip(request)
        delay = services.login_delay_seconds(username=username, ip=ip)
        if delay:
            form.add_error(None, ngettext(
                "Too many failed attempts. Try again in %(seconds)d second.",
                "Too many failed attempts. Try again in %(seconds)d seconds.", delay) % {"seconds": delay})
        else:
            user = services.check_credentials(username=username, password=form.cleaned_data["password"])
            if user is None:
                services.record_login_failure(username=username, ip=ip)
                record_event(action="accounts.login_failed", request=request, details={})
                # The same message whether the name exists or not.
                form.add_error(None, _("The user name or the password is wrong."))
            else:
                request.session.cycle_key()
                request.session[PENDING_USER] = user.pk
                request.session[PENDING_AT] = time.time()
                request.session[PENDING_NEXT] = _safe_next(request, request.GET.get("next"))
                if user.totp_enrolled:
                    return redirect("accounts:second_factor")
                if user.requires_totp:
                    # A fresh secret for each sign-in (a POST): one seen during an abandoned
                    # attempt must not become the agent's second factor later.
                    services.begin_totp_enrolment(user=user)
                    return redirect("accounts:enrol")
                return _complete_login(request, user, second_factor=False)
    return render(request, "accounts/login.html", {"form": form, "expired": expired})


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def second_factor_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None or not user.totp_enrolled:
        messages.error(request, _("Your sign-in expired. Please start again."))
        return redirect("accounts:login")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ip = client_ip(request)
        delay = services.login_delay_seconds(username=user.username, ip=ip)
        if delay:
            form.add_error(None, _("Too many failed attempts. Try again in %(seconds)d seconds.") % {"seconds": delay})
        elif services.verify_second_factor(user=user, code=form.cleaned_data["code"]):
            for key in (PENDING_USER, PENDING_AT):
                request.session.pop(key, None)
            return _complete_login(request, user, second_factor=True)
        else:
            services.record_login_failure(username=user.username, ip=ip)
            record_event(action="accounts.second_factor_failed", actor=None, target=user, request=request)
            form.add_error("code", _("This code is not valid or has expired."))
    return render(request, "accounts/second_factor.html", {"form": form})


@login_not_required
@never_cache
@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest) -> HttpResponse:
    """TOTP enrolment, during sign-in (mandatory case) or from the profile of a signed-in agent."""
    user = request.user if request.user.is_authenticated else _pending_user(request)
    if user is None:
        messages.error(request, _("Your sign-in expired. Please start again."))
        return redirect("accounts:login")
    assert isinstance(user, User)
    if user.totp_enrolled:
        # A confirmed second factor is never replaced from here: otherwise a password alone
        # (a pending sign-in) or a forged link would be enough to enrol another device.
        # Losing a device goes through an administrator's reset.
        if request.user.is_authenticated:
            messages.info(request, _("A second factor is already set up. Ask an administrator to reset it."))
            return redirect("accounts:profile")
        return redirect("accounts:second_factor")
    if request.method == "POST" and "begin" in request.POST:
        # Only a POST writes a secret: a GET (a prefetch, a reload, a link) changes nothing.
        services.begin_totp_enrolment(user=user)
        return redirect("accounts:enrol")
    if not user.has_totp_secret:
        return render(request, "accounts/enrol.html", {"begin": True})
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.confirm_totp_enrolment(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc.messages[0])
        else:
            request.session["chancery_recovery_codes"] = codes
            if not request.user.is_authenticated:
                for key in (PENDING_USER, PENDING_AT):
                    request.session.pop(key, None)
                response = _complete_login(request, user, second_factor=True)
                request.session["chancery_recovery_codes"] = codes
                return redirect("accounts:recovery_codes") if response.status_code == 302 else response
            request.session[SESSION_SECOND_FACTOR] = True
            return redirect("accounts:recovery_codes")
    uri = services.totp_provisioning_uri(user=user)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return render(request, "accounts/enrol.html", {"form": form, "qr": qr, "secret": user.totp_secret})


@never_cache
def recovery_codes_view(request: HttpRequest) -> HttpResponse:
    codes = request.session.pop("chancery_recovery_codes", None)
    if not codes:
        return redirect("accounts:profile")
    return render(request, "accounts/recovery_codes.html", {"codes": codes})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        record_event(action="accounts.logout", actor=request.user, target=request.user, request=request)
    logout(request)
    return redirect("accounts:login")


def profile_view(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/profile.html", {"profile": request.user})
