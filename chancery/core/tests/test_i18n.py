"""Switching languages: <html lang dir>, the agent's profile, dates and numbers."""

from __future__ import annotations

import datetime

import pytest
from django.template import Context, Template
from django.utils import translation

from chancery.accounts.models import Membership, User

pytestmark = pytest.mark.django_db


def _html_tag(response) -> str:
    html = response.content.decode()
    start = html.index("<html")
    return html[start:html.index(">", start) + 1]


def test_french_is_the_default(client_for):
    assert _html_tag(client_for("clerk.dakar").get("/")) == '<html lang="fr" dir="ltr">'


@pytest.mark.parametrize(
    ("language", "tag"),
    [("ar", '<html lang="ar" dir="rtl">'), ("en", '<html lang="en" dir="ltr">'), ("es", '<html lang="es" dir="ltr">'),
     ("fr", '<html lang="fr" dir="ltr">')],
)
def test_switching_language_changes_the_page_and_the_profile(client_for, language, tag):
    client = client_for("clerk.dakar")
    response = client.post("/i18n/setlang/", {"language": language, "next": "/organisation/"})
    assert response.status_code == 302 and response["Location"] == "/organisation/"
    assert _html_tag(client.get("/organisation/")) == tag
    assert User.objects.unrestricted("test").get(username="clerk.dakar").preferred_language == language


def test_arabic_uses_the_right_to_left_stylesheet(client_for):
    client = client_for("clerk.dakar")
    client.post("/i18n/setlang/", {"language": "ar", "next": "/"})
    assert "bootstrap.rtl" in client.get("/").content.decode()


def test_an_unknown_language_changes_nothing(client_for):
    client = client_for("clerk.dakar")
    client.post("/i18n/setlang/", {"language": "xx", "next": "/"})
    assert _html_tag(client.get("/")) == '<html lang="fr" dir="ltr">'
    assert User.objects.unrestricted("test").get(username="clerk.dakar").preferred_language == "fr"


def test_the_language_switch_does_not_redirect_elsewhere(client_for):
    response = client_for("clerk.dakar").post("/i18n/setlang/", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_the_preferred_language_is_applied_at_sign_in(ministry, settings):
    from django.contrib.auth.hashers import make_password
    from django.test import Client

    from chancery.organisation.demo import DEMO_PASSWORD

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    User.objects.unrestricted("test").filter(username="clerk.dakar").update(
        preferred_language="ar", password=make_password(DEMO_PASSWORD)
    )
    client = Client()
    client.post("/accounts/login/", {"username": "clerk.dakar", "password": DEMO_PASSWORD})
    assert _html_tag(client.get("/")) == '<html lang="ar" dir="rtl">'


def test_dates_follow_the_language(client_for, ministry):
    Membership.objects.filter(user=ministry.users["hom.dakar"]).update(start_date=datetime.date(2026, 1, 31))
    client = client_for("clerk.dakar")
    page = client.get("/organisation/people/hom.dakar/").content.decode()
    assert "31/01/2026" in page  # French: day first
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    page = client.get("/organisation/people/hom.dakar/").content.decode()
    assert "01/31/2026" in page and "31/01/2026" not in page  # English: month first


def test_numbers_follow_the_language():
    template = Template("{{ value|floatformat:2 }} {{ when|date:'DATE_FORMAT' }}")
    context = Context({"value": 1234.5, "when": datetime.date(2026, 3, 1)})
    with translation.override("fr"):
        assert template.render(context) == "1234,50 1 mars 2026"
    with translation.override("en"):
        assert template.render(context) == "1234.50 March 1, 2026"
    with translation.override("es"):
        assert template.render(context) == "1234,50 1 de marzo de 2026"
