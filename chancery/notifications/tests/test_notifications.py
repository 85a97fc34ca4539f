from __future__ import annotations

import pytest
from django.urls import reverse

from chancery.accounts.roles import Capability
from chancery.notifications import services
from chancery.notifications.models import Notification, Verb
from chancery.notifications.testing import smtp_server, use_smtp

pytestmark = pytest.mark.django_db


def _notify(ministry, usernames, *, verb=Verb.DISPATCH_ASSIGNED, url="/correspondence/dispatches/1/", actor=None):
    target = ministry.units["DAKAR"]  # any model instance does as a target
    return services.notify(
        recipients=[ministry.users[u] for u in usernames], verb=verb, target=target, url=url, actor=actor
    )


def test_notify_creates_one_row_per_recipient_except_the_actor(ministry):
    rows = _notify(ministry, ["hom.dakar", "hom.dakar", "counsellor.dakar", "desk.dab1"],
                   actor=ministry.users["desk.dab1"])
    assert sorted(n.recipient.username for n in rows) == ["counsellor.dakar", "hom.dakar"]
    stored = Notification.objects.unrestricted("test").filter(target_type="organisation.unit")
    assert stored.count() == 2
    assert {n.target_id for n in stored} == {str(ministry.units["DAKAR"].pk)}


def test_inactive_agents_are_not_notified(ministry):
    user = ministry.users["counsellor.dakar"]
    type(user).objects.unrestricted("test").filter(pk=user.pk).update(is_active=False)
    assert _notify(ministry, ["counsellor.dakar"]) == []


@pytest.mark.parametrize("url", ["https://evil.example/x", "//evil.example/x", "relative/path", "/a\r\nBcc: x"])
def test_only_paths_inside_the_application_are_accepted(ministry, url):
    with pytest.raises(ValueError):
        _notify(ministry, ["hom.dakar"], url=url)


def test_unit_members_with_capability(ministry):
    people = services.unit_members_with(units=[ministry.units["DAKAR"]], capability=Capability.HANDLE_ATTRIBUTION)
    names = {u.username for u in people}
    assert {"hom.dakar", "counsellor.dakar", "clerk.dakar"} <= names
    assert all(u.username.endswith(".dakar") for u in people)
    validators = services.unit_members_with(units=[ministry.units["DAKAR"]], capability=Capability.VALIDATE_DISPATCH)
    assert {u.username for u in validators} == {"hom.dakar"}


def test_email_goes_through_a_real_smtp_server_after_commit_with_only_a_link(
    ministry, settings, django_capture_on_commit_callbacks
):
    settings.CHANCERY_BASE_URL = "https://chancery.example"
    with smtp_server() as sink:
        use_smtp(settings, sink)
        with django_capture_on_commit_callbacks() as callbacks:
            _notify(ministry, ["hom.dakar", "counsellor.dakar"], url="/correspondence/dispatches/42/")
        assert sink.messages == []  # nothing leaves before the transaction commits
        for callback in callbacks:
            callback()
        assert len(sink.messages) == 2
    recipients = sorted(m["To"] for m in sink.messages)
    assert recipients == ["counsellor.dakar@ministry.invalid", "hom.dakar@ministry.invalid"]
    for text in sink.texts():
        assert "https://chancery.example/correspondence/dispatches/42/" in text
        assert "DAKAR" not in text  # the target's own name never travels
    # each recipient gets their own message: nobody learns who else was told
    assert all(len(m.get_all("To") or []) == 1 and "," not in m["To"] for m in sink.messages)


def test_email_is_written_in_the_recipient_language(ministry, settings, django_capture_on_commit_callbacks):
    user = ministry.users["hom.dakar"]
    type(user).objects.unrestricted("test").filter(pk=user.pk).update(preferred_language="en")
    with smtp_server() as sink:
        use_smtp(settings, sink)
        with django_capture_on_commit_callbacks(execute=True):
            _notify(ministry, ["hom.dakar"], verb=Verb.DISPATCH_ASSIGNED)
    assert "A dispatch was assigned to you." in sink.texts()[0]


def test_a_rolled_back_transaction_sends_nothing(ministry, settings, django_capture_on_commit_callbacks):
    with smtp_server() as sink:
        use_smtp(settings, sink)
        with django_capture_on_commit_callbacks() as callbacks:
            _notify(ministry, ["hom.dakar"])
        # the test transaction is rolled back: the callbacks are never run
        assert callbacks and sink.messages == []


def test_an_smtp_failure_does_not_break_the_caller(ministry, settings, django_capture_on_commit_callbacks):
    from chancery.notifications.testing import _free_port

    use_smtp(settings, type("S", (), {"host": "127.0.0.1", "port": _free_port()})())  # nobody listens
    with django_capture_on_commit_callbacks(execute=True):
        rows = _notify(ministry, ["hom.dakar"])
    assert len(rows) == 1


def test_list_shows_only_own_notifications(ministry, client_for):
    _notify(ministry, ["hom.dakar"], verb=Verb.DISPATCH_ATTRIBUTED)
    _notify(ministry, ["counsellor.dakar"], verb=Verb.DISPATCH_ASSIGNED)
    body = client_for("hom.dakar").get(reverse("notifications:list")).content.decode()
    assert "A dispatch was sent to your unit for action." in body or "attribution" in body.lower()
    mine = Notification.objects.unrestricted("test").get(recipient=ministry.users["hom.dakar"])
    other = Notification.objects.unrestricted("test").get(recipient=ministry.users["counsellor.dakar"])
    assert reverse("notifications:open", args=[mine.pk]) in body
    assert reverse("notifications:open", args=[other.pk]) not in body


def test_counter_is_a_fragment_polled_every_minute(ministry, client_for):
    _notify(ministry, ["hom.dakar"])
    _notify(ministry, ["hom.dakar"])
    client = client_for("hom.dakar")
    fragment = client.get(reverse("notifications:counter"), HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment
    assert ">2<" in fragment
    page = client.get("/").content.decode()
    assert reverse("notifications:counter") in page
    assert 'hx-trigger="load, every 60s' in page
    empty = client_for("desk.dab1").get(reverse("notifications:counter"), HTTP_HX_REQUEST="true").content.decode()
    assert "badge" not in empty


def test_open_marks_read_and_redirects_inside(ministry, client_for):
    (n,) = _notify(ministry, ["hom.dakar"], url="/organisation/")
    client = client_for("hom.dakar")
    response = client.get(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 302 and response["Location"] == "/organisation/"
    n.refresh_from_db()
    assert n.read_at is not None


def test_someone_elses_notification_is_404(ministry, client_for):
    (n,) = _notify(ministry, ["hom.dakar"])
    client = client_for("counsellor.dakar")
    assert client.get(reverse("notifications:open", args=[n.pk])).status_code == 404
    assert client.post(reverse("notifications:mark_read", args=[n.pk])).status_code == 404
    n.refresh_from_db()
    assert n.read_at is None


def test_mark_read_with_htmx_returns_the_row(ministry, client_for):
    (n,) = _notify(ministry, ["hom.dakar"])
    response = client_for("hom.dakar").post(reverse("notifications:mark_read", args=[n.pk]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and f'id="notification-{n.pk}"' in body
    assert response["HX-Trigger"] == "notifications-changed"
    n.refresh_from_db()
    assert n.read_at is not None


def test_mark_all_read(ministry, client_for):
    _notify(ministry, ["hom.dakar"])
    _notify(ministry, ["hom.dakar"])
    _notify(ministry, ["counsellor.dakar"])
    client_for("hom.dakar").post(reverse("notifications:mark_all_read"))
    rows = Notification.objects.unrestricted("test")
    assert rows.filter(recipient__username="hom.dakar", read_at__isnull=True).count() == 0
    assert rows.filter(recipient__username="counsellor.dakar", read_at__isnull=True).count() == 1


def test_mark_read_needs_post(ministry, client_for):
    (n,) = _notify(ministry, ["hom.dakar"])
    assert client_for("hom.dakar").get(reverse("notifications:mark_read", args=[n.pk])).status_code == 405


def test_polling_the_counter_does_not_extend_the_session(ministry, client_for):
    import time

    from chancery.accounts.middleware import SESSION_SEEN

    client = client_for("hom.dakar")
    session = client.session
    long_ago = int(time.time()) - 600
    session[SESSION_SEEN] = long_ago
    session.save()
    assert client.get(reverse("notifications:counter"), HTTP_HX_REQUEST="true").status_code == 200
    assert client.session[SESSION_SEEN] == long_ago
    client.get(reverse("notifications:list"))  # a page the agent opens is activity
    assert client.session[SESSION_SEEN] > long_ago


def test_opening_the_target_marks_its_notifications_read(ministry, client_for):
    from chancery.correspondence.tests.views_helpers import build_world

    world = build_world(ministry)
    rows = services.notify(recipients=[ministry.users["desk.dab1"]], verb=Verb.DISPATCH_ATTRIBUTED,
                           target=world.sent, url=reverse("correspondence:detail", args=[world.sent.pk]))
    other = _notify(ministry, ["desk.dab1"])
    client_for("desk.dab1").get(reverse("correspondence:detail", args=[world.sent.pk]))
    rows[0].refresh_from_db()
    other[0].refresh_from_db()
    assert rows[0].read_at is not None and other[0].read_at is None


def test_a_notification_about_a_dispatch_out_of_scope_leaves_no_trace(ministry):
    """Once the agent may no longer read the dispatch (membership ended), its notification
    disappears from the list and the counter."""
    from chancery.accounts.models import Membership
    from chancery.accounts.services import end_membership
    from chancery.correspondence.tests.views_helpers import build_world
    from chancery.notifications.selectors import notifications_for, unread_count

    world = build_world(ministry)
    agent = ministry.users["desk.dab1"]
    services.notify(recipients=[agent], verb=Verb.DISPATCH_ATTRIBUTED, target=world.sent,
                    url=reverse("correspondence:detail", args=[world.sent.pk]))
    _notify(ministry, ["desk.dab1"])  # about a unit: always readable
    assert unread_count(user=agent) == 2

    for membership in Membership.objects.filter(user=agent).active():
        end_membership(actor=ministry.users["admin"], membership=membership)
    agent.forget_cached_rights()
    assert unread_count(user=agent) == 1
    assert [n.target_type for n in notifications_for(user=agent)] == ["organisation.unit"]



def test_marking_a_target_read_goes_through_the_gate_unless_the_target_was_just_read_through_it(ministry):
    """`mark_target_read` skips the notification gate only for a target `get_visible_or_404`
    returned for this agent: handed any other instance of a dispatch the agent may no longer
    read, it leaves that notification as it is (unseen, as the gate keeps it)."""
    from chancery.accounts.models import Membership
    from chancery.accounts.services import end_membership
    from chancery.correspondence import selectors
    from chancery.correspondence.models import Dispatch
    from chancery.correspondence.tests.views_helpers import build_world

    world = build_world(ministry)
    agent = ministry.users["desk.dab1"]
    (row,) = services.notify(recipients=[agent], verb=Verb.DISPATCH_ATTRIBUTED, target=world.sent,
                             url=reverse("correspondence:detail", args=[world.sent.pk]))
    for membership in Membership.objects.filter(user=agent).active():
        end_membership(actor=ministry.users["admin"], membership=membership)
    agent.forget_cached_rights()
    ungated = Dispatch.objects.unrestricted("test: an instance not read through the gate").get(pk=world.sent.pk)
    assert services.mark_target_read(user=agent, target=ungated) == 0
    row.refresh_from_db()
    assert row.read_at is None

    reader = ministry.users["head.dab1"]
    (theirs,) = services.notify(recipients=[reader], verb=Verb.DISPATCH_ATTRIBUTED, target=world.sent,
                                url=reverse("correspondence:detail", args=[world.sent.pk]))
    read = selectors.dispatch_detail(reader, world.sent.pk, audit=False)
    assert services.mark_target_read(user=reader, target=read) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is not None

def test_a_gated_target_whose_key_is_not_a_number_counts_as_unreadable(ministry):
    """The gate probes the target by its numeric key: a key that is not one (never written by the
    application) is not cast (PostgreSQL would refuse the query) and the row is not shown."""
    from chancery.notifications.selectors import unread_count

    agent = ministry.users["desk.dab1"]
    _notify(ministry, ["desk.dab1"])  # about a unit: always readable
    for label in ("correspondence.dispatch", "planning.programme"):
        Notification.objects.create(recipient=agent, verb=Verb.OTHER, target_type=label, target_id="12a", url="/")
    assert unread_count(user=agent) == 1


def test_a_notification_names_the_reference_the_sender_and_the_subject(ministry, client_for, settings,
                                                                        django_capture_on_commit_callbacks):
    """Issue 8: "Une dépêche a été adressée à votre unité…" said neither which nor from whom."""
    from chancery.correspondence.tests.views_helpers import SUBJECT, build_world

    settings.LANGUAGE_CODE = "en"
    with django_capture_on_commit_callbacks(execute=True):
        world = build_world(ministry)
    page = client_for("desk.dab1").get(reverse("notifications:list")).content.decode()
    assert world.sent.reference in page and "from DAKAR" in page and SUBJECT in page
    # Someone who may not read the subject is not shown it (nor the reference).
    assert world.sent.reference not in client_for("desk.dam2").get(reverse("notifications:list")).content.decode()


def test_what_a_notification_names_is_escaped_and_its_form_carries_the_token(ministry, client_for):
    """The rows are written in Python (`notification_rows`): a title with markup is shown as text,
    and the unread row's form posts with the page's CSRF token."""
    from chancery.planning import services as planning

    author = ministry.users["counsellor.dakar"]
    programme = planning.create_programme(
        user=author, mission=ministry.units["DAKAR"], year=2031, title='<script>alert("x")</script> & co'
    )
    Notification.objects.create(
        recipient=ministry.users["hom.dakar"], verb=Verb.OTHER, target_type="planning.programme",
        target_id=str(programme.pk), url="/planning/",
    )  # fmt: skip
    from django.test import Client

    from conftest import sign_in

    client = sign_in(Client(enforce_csrf_checks=True), ministry.users["hom.dakar"])
    page = client.get(reverse("notifications:list")).content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in page and "<script>alert" not in page
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    n = Notification.objects.unrestricted("test").get(target_id=str(programme.pk))
    response = client.post(reverse("notifications:mark_read", args=[n.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    n.refresh_from_db()
    assert n.read_at is not None


def test_a_reply_is_announced_as_a_reply(ministry, django_capture_on_commit_callbacks):
    from chancery.correspondence import services as correspondence
    from chancery.correspondence.tests.views_helpers import build_world

    with django_capture_on_commit_callbacks(execute=True):
        world = build_world(ministry)
        desk = ministry.users["desk.dab1"]
        correspondence.acknowledge(actor=desk, dispatch=world.sent, unit="DAB/1")
        answer = correspondence.reply(actor=desk, dispatch=world.sent, body="<p>Accord.</p>")
        correspondence.validate_dispatch(actor=ministry.users["head.dab1"], dispatch=answer)
        correspondence.send_dispatch(actor=ministry.users["head.dab1"], dispatch=answer)
    verbs = set(Notification.objects.unrestricted("t").filter(
        recipient=ministry.users["counsellor.dakar"], target_id=str(answer.pk)).values_list("verb", flat=True))
    assert verbs == {Verb.DISPATCH_ANSWERED}


def test_a_letter_for_action_of_the_planning_division_reaches_its_planning_officer(
    ministry, django_capture_on_commit_callbacks
):
    from chancery.correspondence import services as correspondence

    with django_capture_on_commit_callbacks(execute=True):
        letter = correspondence.register_incoming(
            actor=ministry.users["clerk.sgbo"], unit=ministry.units["SG/BO"], sender_name="Ambassade de France",
            subject="Plan d'action 2027", routings=[correspondence.RoutingSpec(unit="SG/4", kind="action")],
        )
    told = set(Notification.objects.unrestricted("t").filter(target_id=str(letter.pk))
               .values_list("recipient__username", flat=True))
    assert "plan.sg4" in told


def test_headquarters_hears_of_a_revision(ministry, django_capture_on_commit_callbacks):
    from chancery.planning import services as planning
    from chancery.planning.demo import sample_programme

    u = ministry.users
    programme = sample_programme(mission=ministry.units["DAKAR"], year=2026, user=u["counsellor.dakar"])
    planning.submit_programme(user=u["hom.dakar"], programme=programme)
    planning.approve_programme(user=u["plan.sg4"], programme=programme)
    assert set(Notification.objects.unrestricted("t").filter(
        recipient=u["counsellor.dakar"], target_id=str(programme.pk)).values_list("verb", flat=True)) == {
        Verb.PROGRAMME_APPROVED}
    planning.propose_revision(user=u["hom.dakar"], programme=programme, reason="Nouveau calendrier")
    proposed = Notification.objects.unrestricted("t").filter(
        target_id=str(programme.pk), verb=Verb.PROGRAMME_REVISION_PROPOSED)
    told = set(proposed.values_list("recipient__username", flat=True))
    assert {"desk.dab1", "plan.sg4"} <= told
    planning.approve_revision(user=u["plan.sg4"], programme=programme)
    assert Notification.objects.unrestricted("t").filter(
        recipient=u["counsellor.dakar"], target_id=str(programme.pk), verb=Verb.PROGRAMME_REVISION_DECIDED).exists()
