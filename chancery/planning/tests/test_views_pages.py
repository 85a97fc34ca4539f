"""Planning pages for each role: what they show, who gets 404, HTMX fragments."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from django.test import Client

from chancery.core.classification import Level
from chancery.planning import services
from chancery.planning.demo import sample_programme
from chancery.planning.models import (
    Achievement,
    Action,
    Axis,
    Indicator,
    Programme,
    ProgrammeStatus,
    ReportingPeriod,
)

# What each role's planning pages show: rendering over the selectors, whose queries run on both
# engines in their own tests and in the gate walk (every page, on PostgreSQL too). Run once, in the
# SQLite part of `make test`.
pytestmark = pytest.mark.engine_independent

YEAR = 2026


@pytest.fixture(autouse=True)
def english(settings: Any) -> None:
    """Assertions read the English source strings (French is the default language)."""
    settings.LANGUAGE_CODE = "en"


READERS = ["hom.dakar", "counsellor.dakar", "desk.dab1", "plan.sg4", "inspect.sg5"]


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    programme = sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])
    Programme.objects.unrestricted("test").filter(pk=programme.pk).update(classification=Level.RESTRICTED)
    programme.refresh_from_db()
    return programme


@pytest.fixture
def approved(ministry: Any, dakar: Programme) -> Programme:
    """Dakar's programme submitted, approved, with periods, a measurement and an achievement."""
    u = ministry.users
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    services.approve_programme(user=u["plan.sg4"], programme=dakar)
    services.create_reporting_periods(user=u["hom.dakar"], programme=dakar, period_type="quarter")
    indicator = Indicator.objects.unrestricted("test").filter(programme=dakar).earliest("pk")
    services.record_measurement(
        user=u["counsellor.dakar"], indicator=indicator, period_type="quarter", period_start=date(YEAR, 1, 1), value=61
    )
    served = Action.objects.unrestricted("test").filter(programme=dakar).order_by("position", "pk")[:2]
    achievement = services.create_achievement(
        user=u["counsellor.dakar"], programme=dakar, kind="visit", date=date(YEAR, 3, 2), title="Ministerial visit",
        actions=[a.pk for a in served],
    )
    services.add_achievement_evidence(
        user=u["counsellor.dakar"], achievement=achievement, filename="photo.txt", content=b"evidence"
    )
    dakar.refresh_from_db()
    return dakar


def _ids(programme: Programme) -> dict[str, int]:
    action = Action.objects.unrestricted("test").filter(programme=programme).earliest("pk")
    indicator = Indicator.objects.unrestricted("test").filter(programme=programme).earliest("pk")
    achievement = Achievement.objects.unrestricted("test").filter(programme=programme).first()
    period = ReportingPeriod.objects.unrestricted("test").filter(programme=programme).first()
    evidence = achievement.evidence.first() if achievement else None
    axis = Axis.objects.unrestricted("test").filter(programme=programme).earliest("pk")
    return {
        "pk": programme.pk,
        "axis": axis.pk,
        "action": action.pk,
        "indicator": indicator.pk,
        "achievement": achievement.pk if achievement else 0,
        "period": period.pk if period else 0,
        "evidence": evidence.pk if evidence else 0,
    }


def _programme_urls(ids: dict[str, int]) -> list[str]:
    p = f"/planning/{ids['pk']}"
    return [
        f"{p}/",
        f"{p}/axes/{ids['axis']}/",
        f"{p}/actions/",
        f"{p}/actions/new/",
        f"{p}/actions/{ids['action']}/edit/",
        f"{p}/timeline/",
        f"{p}/indicators/new/",
        f"{p}/indicators/{ids['indicator']}/edit/",
        f"{p}/indicators/{ids['indicator']}/measurements/",
        f"{p}/achievements/new/",
        f"{p}/achievements/{ids['achievement']}/edit/",
        f"{p}/evidence/{ids['evidence']}/",
        f"{p}/updates/",
        f"{p}/updates/{ids['period']}/",
        f"{p}/versions/",
        f"{p}/versions/?old=1",
        f"{p}/baseline/",
        f"{p}/export.xlsx",
        f"{p}/import/",
    ]


@pytest.mark.parametrize("username", READERS)
def test_readers_see_the_programme_document(client_for: Any, approved: Programme, username: str) -> None:
    response = client_for(username).get(f"/planning/{approved.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert approved.title in html
    assert "Political action 1" in html
    # Indicator values side by side: baseline (60, 2025), approved target (75), latest actual (61).
    indicator = Indicator.objects.unrestricted("test").get(programme=approved, label="Indicator 1")
    row = html[html.index(f'id="indicator-{indicator.pk}"') :]
    row = re.sub(r"<[^>]*>", " ", row[: row.index("</tr>")])  # its text: ids in its tags hold digits too
    assert [row.index(v) for v in ("60", "(2025)", "75", "61")] == sorted(
        row.index(v) for v in ("60", "(2025)", "75", "61")
    )
    assert "Ministerial visit" in html
    # The achievement names the actions it serves, each a link to the action on the page.
    [achievement] = [
        a for a in Achievement.objects.unrestricted("test").filter(programme=approved) if a.title == "Ministerial visit"
    ]  # titles are sealed: not a filter
    item = html[html.index(f'id="achievement-{achievement.pk}"') :]
    item = item[: item.index("</li>")]
    served = Action.objects.unrestricted("test").filter(programme=approved).order_by("position", "pk")[:2]
    assert all(f'href="#action-{a.pk}">{a.title}</a>' in item for a in served) and len(served) == 2
    assert all(f'id="action-{a.pk}"' in html for a in served)
    # A restricted programme carries its marking banner on top and bottom.
    assert html.count("marking-banner") == 2


def test_unrelated_head_of_mission_gets_404_everywhere(client_for: Any, approved: Programme) -> None:
    client = client_for("hom.lima")
    for url in _programme_urls(_ids(approved)):
        assert client.get(url).status_code == 404, url
    p = f"/planning/{approved.pk}"
    for url in [
        f"{p}/revise/",
        f"{p}/comments/",
        f"{p}/actions/new/",
        f"{p}/updates/{_ids(approved)['period']}/",
        f"{p}/import/",
    ]:
        assert client.post(url, {"revise-reason": "x", "body": "x"}).status_code == 404, url
    listing = client.get("/planning/").content.decode()
    assert approved.title not in listing


def test_programme_list_filters(client_for: Any, approved: Programme, ministry: Any) -> None:
    client = client_for("plan.sg4")
    html = client.get("/planning/", {"year": YEAR, "status": "approved"}).content.decode()
    assert approved.title in html
    html = client.get("/planning/", {"status": "draft"}).content.decode()
    assert approved.title not in html
    html = client.get("/planning/", {"mission": "DAKAR"}).content.decode()
    assert approved.title in html


def test_programme_list_rows(client_for: Any, approved: Programme, ministry: Any) -> None:
    """The rows (written in Python, `programme_rows`): every value escaped, the years, the status and
    the count of actions; an empty list says so."""
    services.update_programme(user=ministry.users["hom.dakar"], programme=approved, title="Plan <b>& co</b>")
    approved.refresh_from_db()
    Programme.objects.unrestricted("t").filter(pk=approved.pk).update(end_year=YEAR + 2)
    actions = Action.objects.unrestricted("t").filter(programme=approved).count()
    html = client_for("plan.sg4").get("/planning/").content.decode()
    row = html[html.index(f'<a href="/planning/{approved.pk}/">') :]
    row = row[: row.index("</tr>")]
    assert "Plan &lt;b&gt;&amp; co&lt;/b&gt;</a>" in row and "<b>" not in row
    assert f"<td>{YEAR}–{YEAR + 2}</td>" in html
    assert '<span class="status-badge status-approved">Approved</span>' in row
    assert f'<td class="text-end">{actions}</td>' in row and actions > 0
    empty = client_for("plan.sg4").get("/planning/", {"status": "closed"}).content.decode()
    assert "No programme found." in empty and "status-badge" not in empty


@pytest.mark.parametrize(
    "username,expected,absent",
    [
        # The counsellor changes the content; the head of mission proposes the revision (and is named).
        ("counsellor.dakar", ["Add an action", "the head of mission (DAKAR) proposes it"],
         ["Approve the programme", "Propose a revision"]),
        ("hom.dakar", ["Close the programme", "Propose a revision"], ["Approve the programme"]),
        ("desk.dab1", ["Add a comment"], ["Add an action", "Propose a revision", "Close the programme"]),
        ("inspect.sg5", [], ["Add an action", "Propose a revision", "Add a comment", "Close the programme"]),
    ],
)
def test_buttons_follow_the_roles(
    client_for: Any, approved: Programme, username: str, expected: list[str], absent: list[str]
) -> None:
    html = client_for(username).get(f"/planning/{approved.pk}/").content.decode()
    for text in expected:
        assert text in html, text
    for text in absent:
        assert text not in html, text


def test_submitted_programme_shows_approve_to_planning_only(client_for: Any, dakar: Programme, ministry: Any) -> None:
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    assert "Approve the programme" in client_for("plan.sg4").get(f"/planning/{dakar.pk}/").content.decode()
    desk = client_for("desk.dab1").get(f"/planning/{dakar.pk}/").content.decode()
    assert "Approve the programme" not in desk and "Return to the mission" in desk
    draft_html = client_for("hom.dakar").get(f"/planning/{dakar.pk}/").content.decode()
    assert "Submit to headquarters" not in draft_html  # already submitted


@pytest.mark.parametrize("username", READERS)
def test_every_reader_page_answers(client_for: Any, approved: Programme, username: str) -> None:
    client = client_for(username)
    ids = _ids(approved)
    p = f"/planning/{ids['pk']}"
    for url in [
        f"{p}/actions/",
        f"{p}/timeline/",
        f"{p}/updates/",
        f"{p}/updates/{ids['period']}/",
        f"{p}/versions/",
        f"{p}/versions/?old=1&new=2",
        f"{p}/baseline/",
        f"{p}/indicators/{ids['indicator']}/measurements/",
        "/planning/calendar/?month=2026-03",
    ]:
        assert client.get(url).status_code == 200, url
    assert client.get(f"{p}/export.xlsx").status_code == 200
    download = client.get(f"{p}/evidence/{ids['evidence']}/")
    assert download.status_code == 200 and download.content == b"evidence"


@pytest.mark.parametrize("username", ["desk.dab1", "plan.sg4", "inspect.sg5"])
def test_headquarters_cannot_open_mission_forms(client_for: Any, approved: Programme, username: str) -> None:
    client = client_for(username)
    ids = _ids(approved)
    p = f"/planning/{ids['pk']}"
    for url in [
        f"{p}/actions/new/",
        f"{p}/actions/{ids['action']}/edit/",
        f"{p}/indicators/new/",
        f"{p}/achievements/new/",
        f"{p}/import/",
    ]:
        assert client.get(url).status_code == 404, url


def test_new_programme_page_only_for_mission_staff(client_for: Any) -> None:
    assert client_for("counsellor.dakar").get("/planning/new/").status_code == 200
    for username in ("desk.dab1", "plan.sg4", "inspect.sg5"):
        assert client_for(username).get("/planning/new/").status_code == 404


def test_htmx_requests_get_fragments(client_for: Any, approved: Programme) -> None:
    client = client_for("counsellor.dakar")
    for url in [f"/planning/{approved.pk}/", f"/planning/{approved.pk}/timeline/", "/planning/"]:
        full = client.get(url).content.decode()
        fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
        assert "<html" in full
        assert "<html" not in fragment and "<body" not in fragment
        assert approved.title in fragment or url == "/planning/"
    # The action table's filters swap only the rows.
    rows = client.get(
        f"/planning/{approved.pk}/actions/",
        {"status": "approved"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="actions-results",
    ).content.decode()
    assert rows.lstrip().startswith('<div id="actions-results"') and "<nav" not in rows


def test_action_table_filters(client_for: Any, approved: Programme, ministry: Any) -> None:
    client = client_for("desk.dab1")
    url = f"/planning/{approved.pk}/actions/"
    html = client.get(url, {"priority": "high"}).content.decode()
    assert "Political action 1" in html and "Political action 2" not in html
    axis = approved.axes.unrestricted("t").get(axis_type__key="economic") if False else None  # noqa: F841
    html = client.get(url, {"q": "Cultural"}).content.decode()
    assert "Cultural action 1" in html and "Political action 1" not in html
    html = client.get(url, {"status": "done"}).content.decode()
    assert "No action matches." in html
    html = client.get(url, {"lead": ministry.users["counsellor.dakar"].pk}).content.decode()
    assert "Cultural action 2" in html


def test_timeline_places_bars_with_classes(client_for: Any, approved: Programme) -> None:
    html = client_for("hom.dakar").get(f"/planning/{approved.pk}/timeline/").content.decode()
    assert 'class="gantt-bar bar-approved gs-' in html
    assert "style=" not in html
    # February 1st to March 15th of the programme year: weeks 5 to 11 of 53.
    assert "gs-5 ge-12" in html or "gs-5 ge-11" in html


def test_calendar_and_ics(client_for: Any, approved: Programme) -> None:
    client = client_for("counsellor.dakar")
    html = client.get("/planning/calendar/", {"month": "2026-03"}).content.decode()
    assert "Political action 1" in html and 'datetime="2026-03-15"' in html
    mine = client.get("/planning/calendar/", {"month": "2026-03", "mine": "1"}).content.decode()
    assert "Political action 1" in mine
    other = client_for("hom.dakar").get("/planning/calendar/", {"month": "2026-03", "mine": "1"}).content.decode()
    assert "Political action 1" not in other
    ics = client.get("/planning/calendar.ics")
    assert ics.status_code == 200 and ics["Content-Type"].startswith("text/calendar")
    body = ics.content.decode()
    # The programme is restricted: its actions are in the feed, but under a neutral summary
    # (a feed leaves Chancery for calendar applications, without any marking).
    action = Action.objects.unrestricted("test").get(programme=approved, title="Political action 1")
    assert body.startswith("BEGIN:VCALENDAR") and f"SUMMARY:Action #{action.pk} (DAKAR)" in body
    assert "Political action 1" not in body
    assert "Political action 1" not in client_for("hom.lima").get("/planning/calendar.ics").content.decode()
    assert Client().get("/planning/calendar.ics").status_code in (302, 401, 404)


def test_home_panel_lists_programmes_and_my_actions(client_for: Any, approved: Programme) -> None:
    html = client_for("counsellor.dakar").get("/").content.decode()
    assert "Action planning" in html and "Actions I lead" in html


def test_blank_template_download(client_for: Any) -> None:
    response = client_for("desk.dab1").get("/planning/template.xlsx")
    assert response.status_code == 200
    assert response.content[:2] == b"PK"


def test_closed_programme_offers_no_edit(client_for: Any, approved: Programme, ministry: Any) -> None:
    services.close_programme(user=ministry.users["hom.dakar"], programme=approved)
    assert approved.status == ProgrammeStatus.CLOSED
    client = client_for("counsellor.dakar")
    html = client.get(f"/planning/{approved.pk}/").content.decode()
    assert "Add an action" not in html and "Add a comment" not in html
    assert client.get(f"/planning/{approved.pk}/actions/new/").status_code == 404


def test_the_counsellor_is_told_who_submits_the_draft(client_for: Any, dakar: Programme) -> None:
    """Issue 8: no Submit button and no explanation for an embassy counsellor."""
    counsellor = client_for("counsellor.dakar").get(f"/planning/{dakar.pk}/").content.decode()
    assert "the head of mission (DAKAR) submits the programme to headquarters" in counsellor
    assert "whose-step" not in client_for("hom.dakar").get(f"/planning/{dakar.pk}/").content.decode()


def test_actions_and_comment_threads_escape_what_agents_wrote(client_for: Any, dakar: Programme, ministry: Any) -> None:
    """The document's actions, indicator tables and comment threads are written in Python (`programme_items`):
    whatever an agent typed comes out as text, threads nest, and every form posts to the
    programme's comments with the page's CSRF token."""
    import re

    from django.urls import reverse

    from chancery.planning.policy import permissions

    u = ministry.users
    action = Action.objects.unrestricted("test").filter(programme=dakar).order_by("pk").first()
    assert action is not None
    Action.objects.unrestricted("test").filter(pk=action.pk).update(
        title='<script>alert(1)</script> Visit & "Co"', description="First <b>line</b>\nsecond", risk_note="R <i>x</i>"
    )
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    root = services.comment(user=u["desk.dab1"], programme=dakar, body="Why <img src=x>?\nSay", target_type="action",
                            target_id=action.pk)
    reply = services.comment(user=u["counsellor.dakar"], programme=dakar, body="Because & so", parent=root)
    page = client_for("desk.dab1").get(f"/planning/{dakar.pk}/").content.decode()

    assert "<script>alert(1)" not in page and "<img src=x>" not in page and "<b>line" not in page
    item = page[page.index(f'<li class="list-group-item" id="action-{action.pk}">'):]
    item = item[: item.index("</details>\n</li>")]
    assert '<h4 class="h6 mb-0 me-auto">&lt;script&gt;alert(1)&lt;/script&gt; Visit &amp; &quot;Co&quot;</h4>' in item
    assert "First &lt;b&gt;line&lt;/b&gt;<br>second" in item and "R &lt;i&gt;x&lt;/i&gt;" in item
    # The summary counts the comments, replies included (one thread of two here).
    assert '<details class="mt-1" open><summary class="small">2 comments</summary>' in item
    # The reply sits in its parent's thread, after the parent.
    parent_at = item.index(f'<article class="comment" id="comment-{root.pk}">')
    assert item.index(f'<article class="comment" id="comment-{reply.pk}">') > parent_at
    assert "Why &lt;img src=x&gt;?<br>Say" in item and "Because &amp; so" in item
    assert item.count('<ul class="comment-thread">') == 2
    # The desk officer may comment: a reply form under each comment and one to add a comment.
    post = reverse("planning:comment_create", args=[dakar.pk])
    assert item.count(f'action="{post}" hx-post="{post}"') == 3
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
    assert len(tokens) == 1 and item.count(f'name="csrfmiddlewaretoken" value="{tokens.pop()}"') == 3
    assert f'<input type="hidden" name="target_id" value="{action.pk}">' in item
    # Tools follow the reader's rights on the programme.
    rights = permissions(u["desk.dab1"], dakar)
    edit = reverse("planning:action_edit", args=[dakar.pk, action.pk])
    assert (f'href="{edit}"' in item) == bool(rights["edit"])
    assert ("?action=" in item) == bool(rights["record_progress"])


def test_comment_summaries_count_replies(client_for: Any, dakar: Programme, ministry: Any) -> None:
    """An axis's "Comments on … (n)" counts every comment of its threads, replies included."""
    u = ministry.users
    axis = Axis.objects.unrestricted("test").filter(programme=dakar).order_by("pk").first()
    assert axis is not None
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    root = services.comment(
        user=u["desk.dab1"], programme=dakar, body="Un point", target_type="axis", target_id=axis.pk
    )
    reply = services.comment(user=u["counsellor.dakar"], programme=dakar, body="Une réponse", parent=root)
    services.comment(user=u["desk.dab1"], programme=dakar, body="Suite", parent=reply)
    page = client_for("desk.dab1").get(f"/planning/{dakar.pk}/").content.decode()
    block = page[: page.index(f'id="comments-axis-{axis.pk}"')]
    summary = block[block.rindex("<summary>") : block.rindex("</summary>")]
    assert summary.endswith("(3)"), summary


def test_indicator_tables_escape_labels_and_follow_the_rights(client_for: Any, dakar: Programme) -> None:
    indicator = Indicator.objects.unrestricted("test").filter(programme=dakar).order_by("pk").first()
    assert indicator is not None
    Indicator.objects.unrestricted("test").filter(pk=indicator.pk).update(
        label='Trade <b>"bilateral"</b>', unit="", direction="decrease", data_source="Customs & co", baseline_value=None
    )
    for username, may_edit in (("counsellor.dakar", True), ("desk.dab1", False)):
        page = client_for(username).get(f"/planning/{dakar.pk}/").content.decode()
        row = page[page.index(f'<tr id="indicator-{indicator.pk}">') :]
        row = row[: row.index("</tr>")]
        assert "<b>" not in row and "Trade &lt;b&gt;&quot;bilateral&quot;&lt;/b&gt;<br>" in row
        assert "↓ lower is better · Customs &amp; co" in row and "<td>—</td>" in row
        edit = f'href="/planning/{dakar.pk}/indicators/{indicator.pk}/edit/"'
        assert (edit in row) == may_edit, username
        assert f'href="/planning/{dakar.pk}/indicators/{indicator.pk}/measurements/"' in row


def test_a_reader_who_may_not_comment_sees_no_form(client_for: Any, dakar: Programme, ministry: Any) -> None:
    services.submit_programme(user=ministry.users["hom.dakar"], programme=dakar)
    page = client_for("inspect.sg5").get(f"/planning/{dakar.pk}/").content.decode()
    assert "No comments." in page and "csrfmiddlewaretoken" in page  # the sign-out form's only
    assert 'name="target_type"' not in page and 'name="parent"' not in page
