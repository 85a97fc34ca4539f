"""Correspondence pages for every relevant role: who sees what, 404 for anything out of
scope, HTMX fragments, marking banners, print view and attachment download."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chancery.audit.models import AuditEvent
from chancery.correspondence.tests.views_helpers import PDF, build_world

# What each role's pages show (content, banners, fragments): rendering over the selectors, whose
# queries run on both engines in their own tests and in the gate walk, which renders every page on
# PostgreSQL too. Run once, in the SQLite part of `make test`.
pytestmark = [pytest.mark.django_db, pytest.mark.engine_independent]

ROLES = ["hom.dakar", "counsellor.dakar", "clerk.dakar", "clerk.sgbo", "desk.dab1", "head.dab1", "director.dab",
         "desk.dg76", "plan.sg4", "security", "auditor", "counsellor.lima"]
# Who may read the sent DAKAR dispatch (sending unit, routed units, oversight of DAB/1).
SENT_READERS = {"hom.dakar", "counsellor.dakar", "clerk.dakar", "desk.dab1", "head.dab1", "director.dab",
                "desk.dg76", "security"}
DRAFTERS = {"hom.dakar", "counsellor.dakar", "desk.dab1", "head.dab1", "director.dab", "desk.dg76", "plan.sg4",
            "counsellor.lima"}
REGISTRARS = {"clerk.dakar", "clerk.sgbo"}


@pytest.fixture
def world(ministry):
    return build_world(ministry)


@pytest.fixture
def english(client_for):
    def make(username):
        client = client_for(username)
        client.cookies["chancery_language"] = "en"
        return client

    return make


@pytest.mark.parametrize("username", ROLES)
def test_lists_answer_for_every_role(world, client_for, username):
    client = client_for(username)
    for name in ("inbox", "drafts", "sent"):
        response = client.get(reverse(f"correspondence:{name}"))
        assert response.status_code == 200, name
    body = client.get(reverse("correspondence:inbox") + "?status=").content.decode()
    # The inbox lists a dispatch only for members of the units it is routed to.
    routed = {"desk.dab1", "head.dab1", "desk.dg76", "security"}
    assert (world.sent.reference in body) == (username in routed)
    assert world.lima.reference not in body
    assert (client.get(reverse("correspondence:new")).status_code == 200) == (username in DRAFTERS)
    assert (client.get(reverse("correspondence:register_incoming")).status_code == 200) == (username in REGISTRARS)


@pytest.mark.parametrize("username", ROLES)
def test_dispatch_page_only_for_readers(world, client_for, username):
    client = client_for(username)
    response = client.get(reverse("correspondence:detail", args=[world.sent.pk]))
    assert response.status_code == (200 if username in SENT_READERS else 404)
    body = response.content.decode()
    if username in SENT_READERS:
        assert "Mangrove cooperation seminar preparations" in body
    else:
        assert "Mangrove" not in body and world.sent.reference not in body


def _id_urls(dispatch, routing_id, *, position=1):
    pk = dispatch.pk
    return [
        ("get", reverse("correspondence:detail", args=[pk])),
        ("get", reverse("correspondence:detail", args=[pk]) + "?print=1"),
        ("get", reverse("correspondence:edit", args=[pk])),
        ("post", reverse("correspondence:edit", args=[pk])),
        ("post", reverse("correspondence:validate", args=[pk])),
        ("post", reverse("correspondence:send", args=[pk])),
        ("get", reverse("correspondence:reply", args=[pk])),
        ("post", reverse("correspondence:reply", args=[pk])),
        ("post", reverse("correspondence:change_marking", args=[pk])),
        ("post", reverse("correspondence:grant", args=[pk])),
        ("get", reverse("correspondence:attachment", args=[pk, position])),
        ("post", reverse("correspondence:remove_attachment", args=[pk, position])),
        ("post", reverse("correspondence:acknowledge", args=[pk, routing_id])),
        ("post", reverse("correspondence:assign", args=[pk, routing_id])),
        ("post", reverse("correspondence:close", args=[pk, routing_id])),
        ("post", reverse("correspondence:mark_read", args=[pk, routing_id])),
    ]


@pytest.mark.parametrize("username", sorted(set(ROLES) - {"counsellor.lima"}))
def test_out_of_scope_dispatch_is_404_on_every_url(world, client_for, username):
    client = client_for(username)
    routing = world.routing(world.lima, "DAM/2")
    for method, url in _id_urls(world.lima, routing.pk):
        response = getattr(client, method)(url, HTTP_HX_REQUEST="true") if method == "get" else client.post(url)
        assert response.status_code == 404, (method, url)
        assert b"Lima only" not in response.content
    # A missing id answers the same.
    for method, url in _id_urls(world.lima, 999_999)[-4:]:
        assert getattr(client, method)(url).status_code == 404


@pytest.mark.parametrize("username", ["auditor", "plan.sg4", "clerk.sgbo"])
def test_unrouted_headquarters_agents_get_404_for_the_sent_dispatch(world, client_for, username):
    client = client_for(username)
    routing = world.routing(world.sent, "DAB/1")
    for method, url in _id_urls(world.sent, routing.pk):
        assert getattr(client, method)(url).status_code == 404, (method, url)


@pytest.mark.parametrize("username", ["desk.dab1", "director.dab", "plan.sg4"])
def test_a_draft_is_only_for_its_unit(world, client_for, username):
    assert client_for(username).get(reverse("correspondence:detail", args=[world.draft.pk])).status_code == 404
    own = client_for("counsellor.dakar").get(reverse("correspondence:detail", args=[world.draft.pk]))
    assert own.status_code == 200


def test_actions_offered_follow_the_role(world, english):
    url = reverse("correspondence:detail", args=[world.sent.pk])
    desk = english("desk.dab1").get(url).content.decode()
    assert "Acknowledge receipt (DAB/1)" in desk and "Assign" in desk and "Reply" in desk
    assert "Downgrade or declassify" not in desk
    copy = english("desk.dg76").get(url).content.decode()
    assert "Mark as read (DG7/6)" in copy and "Acknowledge receipt" not in copy
    sec = english("security").get(url).content.decode()
    assert "Downgrade or declassify" in sec
    sender = english("hom.dakar").get(url).content.decode()
    assert "Grant access" in sender and "Acknowledge receipt" not in sender
    draft = english("hom.dakar").get(reverse("correspondence:detail", args=[world.draft.pk])).content.decode()
    assert "Validate" in draft and "Sign and send" in draft and "Edit the draft" in draft
    counsellor = english("counsellor.dakar").get(reverse("correspondence:detail", args=[world.draft.pk]))
    text = counsellor.content.decode()
    assert "Edit the draft" in text and "Sign and send" not in text


def test_protected_pages_carry_the_marking_on_top_and_bottom(world, client_for):
    client = client_for("desk.dab1")
    for url in (reverse("correspondence:detail", args=[world.sent.pk]), reverse("correspondence:inbox")):
        body = client.get(url).content.decode()
        assert 'marking-level-1 marking-top' in body and 'marking-level-1 marking-bottom' in body, url
        assert body.index("marking-top") < body.index("Mangrove") < body.index("marking-bottom")


def test_htmx_requests_get_fragments(world, client_for):
    client = client_for("desk.dab1")
    for url in (
        reverse("correspondence:inbox"),
        reverse("correspondence:drafts"),
        reverse("correspondence:sent"),
        reverse("correspondence:detail", args=[world.sent.pk]),
        reverse("correspondence:new"),
        reverse("correspondence:reference_suggestions") + "?q=DAKAR",
    ):
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, url
        body = response.content.decode()
        assert "<html" not in body and "<body" not in body, url
    full = client.get(reverse("correspondence:detail", args=[world.sent.pk])).content.decode()
    assert "<html" in full


def test_overdue_attributions_stand_out_with_a_text_label(world, english):
    body = english("desk.dab1").get(reverse("correspondence:inbox")).content.decode()
    row = body[body.index(world.sent.reference) - 400: body.index(world.sent.reference) + 1500]
    assert 'class="overdue"' in row
    assert "Overdue" in row  # a text label, not colour alone
    only = english("desk.dab1").get(reverse("correspondence:inbox") + "?overdue=on").content.decode()
    assert world.sent.reference in only


def test_inbox_filters(world, client_for):
    client = client_for("desk.dg76")
    assert world.sent.reference in client.get(reverse("correspondence:inbox") + "?kind=info").content.decode()
    assert world.sent.reference not in client.get(reverse("correspondence:inbox") + "?kind=action").content.decode()
    assert world.sent.reference not in client.get(reverse("correspondence:inbox") + "?status=read").content.decode()


def test_letter_header_shows_every_field(world, english):
    body = english("desk.dab1").get(reverse("correspondence:detail", args=[world.sent.pk])).content.decode()
    for text in (world.sent.reference, "For action", "DAB/1", "Pending", "For information", "DG7/6", "Unread",
                 "Transmission", "In clear", "marking-level-1", "Quinoa delegation", "programme.pdf", "SN"):
        assert text in body, text


def test_print_view_repeats_the_marking_on_every_page(world, client_for):
    response = client_for("desk.dab1").get(reverse("correspondence:detail", args=[world.sent.pk]) + "?print=1")
    body = response.content.decode()
    thead = body[body.index("<thead>"): body.index("</thead>")]
    tfoot = body[body.index("<tfoot>"): body.index("</tfoot>")]
    assert "Diffusion restreinte" in thead and "Diffusion restreinte" in tfoot
    assert "print-frame" in body and "Mangrove" in body
    from django.contrib.staticfiles import finders

    found = finders.find("correspondence/correspondence.css")
    assert isinstance(found, str)
    with open(found, encoding="utf-8") as handle:
        css = handle.read()
    assert "@page" in css and "table-header-group" in css and "table-footer-group" in css


def test_attachment_download_is_safe_and_audited(world, client_for):
    client = client_for("desk.dab1")
    before = AuditEvent.objects.unrestricted("test").filter(action="correspondence.read").count()
    response = client.get(reverse("correspondence:attachment", args=[world.sent.pk, 1]))
    assert response.status_code == 200
    assert response.content == PDF
    assert response["Content-Disposition"].startswith("attachment;")
    assert "programme.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"
    assert AuditEvent.objects.unrestricted("test").filter(action="correspondence.read").count() == before + 1
    assert client.get(reverse("correspondence:attachment", args=[world.sent.pk, 2])).status_code == 404


def test_reference_suggestions_go_through_the_gate(world, client_for):
    client = client_for("desk.dab1")
    body = client.get(reverse("correspondence:reference_suggestions") + "?q=/20").content.decode()
    assert world.sent.reference in body and world.lima.reference not in body
    added = client.get(
        reverse("correspondence:reference_suggestions"), {"add": world.sent.reference, "cites": "X/1"}
    ).content.decode()
    assert 'name="cites"' in added and "X/1\n" + world.sent.reference in added


def test_home_panel_lists_work_without_protected_subjects(world, english):
    body = english("desk.dab1").get("/").content.decode()
    assert world.sent.reference in body and "To acknowledge" in body
    assert "Mangrove" not in body  # the home page carries no marking banner: no protected text


def test_navbar_links_to_correspondence(world, client_for):
    body = client_for("counsellor.dakar").get("/").content.decode()
    assert reverse("correspondence:inbox") in body


def test_register_incoming_offers_the_letter_import(world, client_for):
    body = client_for("clerk.sgbo").get(reverse("correspondence:register_incoming")).content.decode()
    assert reverse("imports:upload") in body


def test_a_step_that_is_someone_elses_says_whose(world, client_for, settings):
    """Issue 8: a drafter saw "no action for you" on their own draft, not who validates it."""
    settings.LANGUAGE_CODE = "en"
    page = client_for("counsellor.dakar").get(reverse("correspondence:detail", args=[world.draft.pk]))
    assert "the head of unit (DAKAR) validates the draft" in page.content.decode()
    head = client_for("hom.dakar").get(reverse("correspondence:detail", args=[world.draft.pk])).content.decode()
    assert "whose-step" not in head  # the head of mission has the button instead


def test_the_sent_list_is_named_in_the_plural_in_french(world, client_for):
    """The list of sent dispatches is "Envoyées" (the mailbox), while a dispatch's status stays
    "Envoyée": one English word, two French ones (translation context "mailbox")."""
    client = client_for("counsellor.dakar")
    client.cookies["chancery_language"] = "fr"
    body = client.get(reverse("correspondence:sent")).content.decode()
    assert "<title>Envoyées" in body or ">Envoyées<" in body
    assert "Envoyée<" in body  # the status of the dispatches listed


def test_inbox_rows_escape_what_users_wrote(ministry, english):
    """The inbox's rows are written in Python (`correspondence_rows`): whatever a sender or a
    clerk typed comes out as text, and each row still says what the page promises."""
    from datetime import timedelta

    from django.utils import timezone

    from chancery.correspondence import services

    yesterday = timezone.localdate() - timedelta(days=1)
    letter = services.register_incoming(
        actor=ministry.users["clerk.sgbo"],
        unit=ministry.units["SG/BO"],
        sender_name='<b>Chambre</b> & "Co"',
        subject="<script>alert(1)</script> Tarifs <img src=x onerror=steal()>",
        routings=[services.RoutingSpec(unit="DAB/1", kind="action", due_date=yesterday)],
    )
    body = english("desk.dab1").get(reverse("correspondence:inbox")).content.decode()
    assert "<script>alert(1)" not in body and "<img src=x" not in body and "<b>Chambre" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Tarifs &lt;img src=x onerror=steal()&gt;" in body
    assert "&lt;b&gt;Chambre&lt;/b&gt; &amp; &quot;Co&quot;" in body
    href = reverse("correspondence:detail", args=[letter.pk])
    row = body[body.index(f'href="{href}"') - 200 : body.index(f'href="{href}"') + 1200]
    assert '<tr class="overdue">' in row
    assert f'<a class="reference" dir="ltr" href="{href}">{letter.reference}</a>' in row
    assert "For action" in row and "Pending" in row and '<span class="overdue-label">Overdue</span>' in row
    assert f'<time datetime="{yesterday.isoformat()}">' in row


def test_inbox_banner_names_the_compartments_of_the_rows_shown(ministry, english):
    """A row's compartments come from its dispatch, read only for the rows whose routing says the
    dispatch has some: the banner still names every compartment shown, and no other."""
    from chancery.core.classification import Marking
    from chancery.correspondence.tests.domain_helpers import sent

    crypto = sent(
        ministry, author="sg", unit="SG", head="sg", classification=2, compartments=["CRYPTO"],
        routings=[("SG/SEC", "action")],
    )
    plain = sent(ministry, author="sg", unit="SG", head="sg", classification=1, routings=[("SG/SEC", "info")])
    body = english("security").get(reverse("correspondence:inbox")).content.decode()
    assert crypto.reference in body and plain.reference in body
    banner = 'marking-banner marking-level-2 marking-top" role="note" aria-label="Classification marking">'
    assert f'{banner}{Marking.of(2, ["CRYPTO"]).label()}</div>' in body
    # Without the compartmented row on the page, no compartment in the banner.
    unread = english("security").get(reverse("correspondence:inbox") + "?kind=info").content.decode()
    assert plain.reference in unread and crypto.reference not in unread
    assert "CRYPTO" not in unread and f">{Marking.of(1, []).label()}</div>" in unread
