"""The administration pages: who reaches them, what they change, what the audit log says."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from chancery.accounts.models import Membership, User
from chancery.accounts.roles import Role
from chancery.audit.models import AuditEvent
from chancery.audit.services import verify_chain
from chancery.core.classification import Level
from chancery.organisation.models import Unit

pytestmark = pytest.mark.django_db

ADMIN = "admin.dsi"  # administrator, not a super-administrator
SECURITY = "security"  # security officer (manages clearances)


def _events(action: str, **filters: Any) -> Any:
    return AuditEvent.objects.unrestricted("test").filter(action=action, **filters)


def _unit(code: str) -> Unit:
    return Unit.objects.unrestricted("test").get(code=code)


def _user(username: str) -> User:
    return User.objects.unrestricted("test").get(username=username)


def _unit_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "code": "DAB/9",
        "name": "Sous-direction de test",
        "short_name": "",
        "kind": "division",
        "parent": "",
        "function": "",
        "mission_kind": "",
        "country": "",
        "city": "",
        "hq_desk": "",
        "aliases": "",
    }
    data.update(overrides)
    return data


# --- Access ---------------------------------------------------------------------------

PAGES = [
    ("organisation:admin_home", []),
    ("organisation:admin_units", []),
    ("organisation:admin_unit_create", []),
    ("organisation:admin_unit_edit", ["DAKAR"]),
    ("organisation:admin_agents", []),
    ("organisation:admin_agent_create", []),
    ("organisation:admin_agent", ["clerk.dakar"]),
    ("organisation:admin_agent_edit", ["clerk.dakar"]),
    ("organisation:admin_agent_clearance", ["clerk.dakar"]),
]

# Who gets 200 (everyone else 404): administrators manage the organisation, security
# officers manage clearances, the super-administrator does both.
EXPECTED = {
    "admin": {name for name, _args in PAGES},
    ADMIN: {name for name, _args in PAGES} - {"organisation:admin_agent_clearance"},
    SECURITY: {"organisation:admin_home", "organisation:admin_agents", "organisation:admin_agent",
               "organisation:admin_agent_clearance"},
}
OTHERS = ["hom.dakar", "counsellor.dakar", "clerk.sgbo", "desk.dab1", "director.dab", "plan.sg4", "auditor", "sg"]


@pytest.mark.parametrize("username", ["admin", ADMIN, SECURITY, *OTHERS])
def test_pages_answer_200_to_the_right_people_and_404_to_everyone_else(client_for, username):
    client = client_for(username)
    for name, args in PAGES:
        response = client.get(reverse(name, args=args))
        expected = 200 if name in EXPECTED.get(username, set()) else 404
        assert response.status_code == expected, f"{username} GET {name}: {response.status_code}"


def test_others_cannot_change_anything_by_posting(client_for, ministry):
    client = client_for("director.dab")
    clerk = ministry.users["clerk.dakar"]
    membership = Membership.objects.filter(user=clerk).get()
    before = AuditEvent.objects.unrestricted("test").count()
    posts = [
        (reverse("organisation:admin_unit_create"), _unit_post()),
        (reverse("organisation:admin_agent_set_active", args=["clerk.dakar"]), {"active": "0"}),
        (reverse("organisation:admin_membership_end", args=["clerk.dakar", membership.pk]), {}),
        (reverse("organisation:admin_agent_clearance", args=["clerk.dakar"]),
         {"level": "3", "reason": "promotion"}),
        (reverse("organisation:admin_agent_reset_second_factor", args=["clerk.dakar"]), {}),
    ]
    for url, data in posts:
        assert client.post(url, data).status_code == 404, url
    assert AuditEvent.objects.unrestricted("test").count() == before
    assert _user("clerk.dakar").is_active


def test_missing_objects_answer_404(client_for):
    client = client_for("admin")
    assert client.get(reverse("organisation:admin_unit_edit", args=["ZZ/999"])).status_code == 404
    assert client.get(reverse("organisation:admin_agent", args=["nobody-at-all"])).status_code == 404
    other = Membership.objects.filter(user__username="hom.dakar").get()
    # A membership of another agent, reached through this agent's URL: 404.
    url = reverse("organisation:admin_membership_end", args=["clerk.dakar", other.pk])
    assert client.post(url).status_code == 404
    assert Membership.objects.get(pk=other.pk).end_date is None


def test_the_navigation_links_to_the_administration_for_administrators(client_for):
    assert reverse("organisation:admin_home") in client_for(ADMIN).get("/").content.decode()
    assert reverse("organisation:admin_home") not in client_for("clerk.dakar").get("/").content.decode()


# --- Units ----------------------------------------------------------------------------

def test_units_list_searches_codes_names_and_cities(client_for):
    client = client_for(ADMIN)
    page = client.get(reverse("organisation:admin_units"), {"q": "dakar"}).content.decode()
    assert "DAKAR" in page
    assert "LIMA" not in page
    page = client.get(reverse("organisation:admin_units"), {"kind": "region"}).content.decode()
    assert "DAKAR" not in page and "RAFR" in page
    # An unknown kind is ignored rather than an error; an over-long query is cut.
    assert client.get(reverse("organisation:admin_units"), {"kind": "x" * 50, "q": "D" * 500}).status_code == 200


def test_create_a_unit_records_it_and_its_path(client_for, ministry):
    client = client_for(ADMIN)
    parent = ministry.units["DAB"]
    response = client.post(
        reverse("organisation:admin_unit_create"),
        _unit_post(code="dab/9", parent=parent.pk, aliases="Sous-direction 9\n\n  SD9  \nSD9"),
    )
    assert response.status_code == 302
    unit = _unit("DAB/9")  # typed in lower case, stored in capitals
    assert unit.parent_id == parent.pk
    assert unit.path == f"{parent.path}{unit.pk}/"
    assert unit.aliases == ["Sous-direction 9", "SD9"]
    event = _events("organisation.unit_created", object_id=str(unit.pk)).get()
    assert event.actor_label == ADMIN and event.details["parent"] == "DAB"


def test_create_a_mission(client_for, ministry):
    client = client_for(ADMIN)
    response = client.post(
        reverse("organisation:admin_unit_create"),
        _unit_post(code="OSLO", name="Ambassade à Oslo", kind="mission", parent=ministry.units["REUR"].pk
                   if "REUR" in ministry.units else ministry.units["RAFR"].pk,
                   mission_kind="embassy", country="no", city="Oslo", hq_desk=ministry.units["DAB/1"].pk),
    )
    assert response.status_code == 302
    oslo = _unit("OSLO")
    assert (oslo.country, oslo.city, oslo.hq_desk_id) == ("NO", "Oslo", ministry.units["DAB/1"].pk)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"code": "4SG"}, "code", "A unit code is capital letters and digits"),
        ({"code": "SG//4"}, "code", "A unit code is capital letters and digits"),
        ({"code": "SG 4"}, "code", "A unit code is capital letters and digits"),
        ({"code": "SG/" + "4" * 70}, "code", "at most 64 characters"),
        ({"code": "DAKAR"}, "code", "already exists"),
        ({"name": "N" * 201}, "name", "at most 200 characters"),
        ({"name": ""}, "name", "This field is required"),
        ({"city": "C" * 101}, "city", "at most 100 characters"),
        ({"aliases": "A" * 201}, "aliases", "at most 200 characters"),
        ({"aliases": "\n".join(f"alias {i}" for i in range(21))}, "aliases", "At most 20 aliases"),
        ({"kind": "mission", "mission_kind": "embassy", "country": ""}, "country", "A mission needs a country"),
        ({"kind": "mission", "mission_kind": "embassy", "country": "SEN"}, "country", "at most 2 characters"),
        ({"kind": "mission", "country": "SN"}, "mission_kind", "Choose the kind of mission"),
        ({"mission_kind": "embassy"}, "mission_kind", "Only a mission has a mission kind"),
        ({"kind": "planet"}, "kind", "Select a valid choice"),
        ({"parent": "987654321"}, "parent", "Select a valid choice"),
        # A right-to-left override makes "Embassy gpj.exe" display as another name.
        ({"name": "Embassy \u202egpj.exe"}, "name", "invisible direction control"),
        ({"city": "Da\u2066kar"}, "city", "invisible direction control"),
        ({"aliases": "Ambassade \u202dx"}, "aliases", "invisible direction control"),
    ],
)
def test_bad_unit_input_gives_a_clear_message_and_saves_nothing(client_for, overrides, field, message):
    client = client_for(ADMIN)
    units_before = Unit.objects.unrestricted("test").count()
    events_before = AuditEvent.objects.unrestricted("test").count()
    response = client.post(reverse("organisation:admin_unit_create"), _unit_post(**overrides))
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors, form.errors
    assert message in " ".join(form.errors[field])
    assert message.split(" ")[0] in response.content.decode()  # shown on the page
    assert Unit.objects.unrestricted("test").count() == units_before
    assert AuditEvent.objects.unrestricted("test").count() == events_before


def test_edit_a_unit_moves_its_whole_subtree(client_for, ministry):
    client = client_for(ADMIN)
    division = ministry.units["DAB/1"]
    new_parent = ministry.units["SG"]
    data = _unit_post(code="DAB/1", name="Afrique de l'Ouest (déplacée)", kind="division", parent=new_parent.pk,
                      is_active="on")
    child = Unit.objects.unrestricted("test").create(code="DAB/1/A", name="Cellule", kind="service",
                                                     parent=division, path="")
    Unit.objects.unrestricted("test").filter(pk=child.pk).update(path=f"{division.path}{child.pk}/")
    response = client.post(reverse("organisation:admin_unit_edit", args=["DAB/1"]), data)
    assert response.status_code == 302, response.context["form"].errors if response.context else ""
    moved = _unit("DAB/1")
    assert moved.parent_id == new_parent.pk
    assert moved.path == f"{new_parent.path}{moved.pk}/"
    assert _unit("DAB/1/A").path == f"{moved.path}{child.pk}/"
    event = _events("organisation.unit_updated", object_id=str(moved.pk)).get()
    assert set(event.details["fields"]) == {"name", "parent"}


def test_moving_a_unit_under_its_own_descendant_is_refused_and_nothing_is_saved(client_for, ministry):
    client = client_for(ADMIN)
    directorate = ministry.units["DAB"]
    descendant = ministry.units["DAB/1"]
    before = _unit("DAB")
    data = _unit_post(code="DAB", name="Renamed at the same time", kind="directorate", parent=descendant.pk,
                      is_active="on")
    response = client.post(reverse("organisation:admin_unit_edit", args=["DAB"]), data)
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["parent"])
    assert "cannot be placed under itself or one of its sub-units" in errors
    select = str(response.context["form"]["parent"])
    assert 'aria-invalid="true"' in select and "id_parent_error" in select
    after = _unit("DAB")
    assert (after.name, after.parent_id, after.path) == (before.name, before.parent_id, before.path)
    assert not _events("organisation.unit_updated", object_id=str(directorate.pk)).exists()
    # Under itself, too.
    data["parent"] = directorate.pk
    response = client.post(reverse("organisation:admin_unit_edit", args=["DAB"]), data)
    assert "parent" in response.context["form"].errors


def test_editing_without_changes_records_nothing(client_for):
    client = client_for(ADMIN)
    form = client.get(reverse("organisation:admin_unit_edit", args=["DAKAR"])).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data["is_active"] = "on"
    before = AuditEvent.objects.unrestricted("test").count()
    assert client.post(reverse("organisation:admin_unit_edit", args=["DAKAR"]), data).status_code == 302
    assert AuditEvent.objects.unrestricted("test").count() == before


# --- Agents ---------------------------------------------------------------------------

def _agent_post(**overrides: Any) -> dict[str, Any]:
    data = {
        "username": "new.agent",
        "first_name": "Awa",
        "last_name": "Ndiaye",
        "email": "new.agent@ministry.invalid",
        "password1": "Correct-horse-battery-9",
        "password2": "Correct-horse-battery-9",
        "unit": "",
        "role": "",
    }
    data.update(overrides)
    return data


def test_agents_list_searches_and_shows_deactivated_agents(client_for):
    User.objects.unrestricted("test").filter(username="clerk.lima").update(is_active=False)
    client = client_for(ADMIN)
    page = client.get(reverse("organisation:admin_agents"), {"q": "lima"}).content.decode()
    assert "clerk.lima" in page and "hom.lima" in page and "Deactivated" in page
    assert "clerk.dakar" not in page


def test_create_an_agent_with_a_first_membership(client_for, ministry):
    client = client_for(ADMIN)
    dakar = ministry.units["DAKAR"]
    response = client.post(reverse("organisation:admin_agent_create"),
                           _agent_post(unit=dakar.pk, role=Role.COUNSELLOR))
    assert response.status_code == 302
    agent = _user("new.agent")
    assert agent.check_password("Correct-horse-battery-9")
    assert agent.clearance_level == Level.UNCLASSIFIED
    assert [(m.unit.code, m.role) for m in agent.active_memberships()] == [("DAKAR", Role.COUNSELLOR)]
    assert _events("accounts.user_created", object_id=str(agent.pk), actor__username=ADMIN).exists()
    assert _events("accounts.membership_added", object_id=str(agent.pk)).get().details == {
        "unit": "DAKAR", "role": "counsellor"}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"username": "u" * 151}, "username", "at most 150 characters"),
        ({"username": "bad name!"}, "username", "Enter a valid username"),
        ({"username": "CLERK.DAKAR"}, "username", "already taken"),
        ({"first_name": "F" * 151}, "first_name", "at most 150 characters"),
        ({"email": "not-an-address"}, "email", "valid email"),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        ({"password1": "password123", "password2": "password123"}, "password1", "too common"),
        ({"password1": "8394710293847", "password2": "8394710293847"}, "password1", "entirely numeric"),
        ({"password2": "something-else-1"}, "password2", "The two passwords differ"),
        ({"role": "counsellor"}, "unit", "Give both a unit and a role"),
        ({"unit": "987654321", "role": "counsellor"}, "unit", "Select a valid choice"),
        ({"last_name": "Diop\u202e"}, "last_name", "invisible direction control"),
        ({"first_name": "\u202bAmina"}, "first_name", "invisible direction control"),
    ],
)
def test_bad_agent_input_gives_a_clear_message_and_saves_nothing(client_for, overrides, field, message):
    client = client_for(ADMIN)
    users_before = User.objects.unrestricted("test").count()
    events_before = AuditEvent.objects.unrestricted("test").count()
    response = client.post(reverse("organisation:admin_agent_create"), _agent_post(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert message in " ".join(errors.get(field, [])), errors
    assert User.objects.unrestricted("test").count() == users_before
    assert AuditEvent.objects.unrestricted("test").count() == events_before


def test_an_administrator_cannot_grant_the_security_officer_role(client_for, ministry):
    response = client_for(ADMIN).post(
        reverse("organisation:admin_agent_create"),
        _agent_post(unit=ministry.units["SG/SEC"].pk, role=Role.SECURITY_OFFICER),
    )
    assert "role" in response.context["form"].errors
    assert not User.objects.unrestricted("test").filter(username="new.agent").exists()
    # The super-administrator can.
    response = client_for("admin").post(
        reverse("organisation:admin_agent_create"),
        _agent_post(unit=ministry.units["SG/SEC"].pk, role=Role.SECURITY_OFFICER),
    )
    assert response.status_code == 302


def test_edit_an_agent(client_for):
    client = client_for(ADMIN)
    url = reverse("organisation:admin_agent_edit", args=["clerk.dakar"])
    response = client.post(url, {"first_name": "F" * 200, "last_name": "X", "email": ""})
    assert "first_name" in response.context["form"].errors
    assert _user("clerk.dakar").last_name != "X"
    assert client.post(url, {"first_name": "Fatou", "last_name": "Sow", "email": "f.sow@ministry.invalid"}
                       ).status_code == 302
    agent = _user("clerk.dakar")
    assert (agent.first_name, agent.last_name, agent.email) == ("Fatou", "Sow", "f.sow@ministry.invalid")
    assert _events("accounts.user_updated", object_id=str(agent.pk)).exists()


def test_deactivate_and_reactivate_an_agent(client_for, ministry):
    admin = client_for(ADMIN)
    clerk = client_for("clerk.dakar")
    assert clerk.get("/").status_code == 200
    url = reverse("organisation:admin_agent_set_active", args=["clerk.dakar"])
    assert admin.post(url, {"active": "0"}).status_code == 302
    assert not _user("clerk.dakar").is_active
    # The open session ends at once.
    response = clerk.get("/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert admin.post(url, {"active": "1"}).status_code == 302
    assert _user("clerk.dakar").is_active
    actions = list(_events("accounts.user_updated", object_id=str(ministry.users["clerk.dakar"].pk))
                   .values_list("details", flat=True))
    assert actions == [{"fields": ["is_active"]}, {"fields": ["is_active"]}]


def test_administrators_cannot_deactivate_themselves_or_a_super_administrator(client_for):
    client = client_for(ADMIN)
    for username in (ADMIN, "admin"):
        response = client.post(reverse("organisation:admin_agent_set_active", args=[username]), {"active": "0"},
                               follow=True)
        assert response.status_code == 200
        assert _user(username).is_active
        assert "cannot change your own account" in response.content.decode() or "super-administrator" in (
            response.content.decode())


# --- Memberships ----------------------------------------------------------------------

def test_add_an_agent_to_a_mission_then_end_the_membership(client_for, ministry):
    admin = client_for(ADMIN)
    agent = ministry.users["clerk.sgbo"]
    lima = ministry.units["LIMA"]
    response = admin.post(reverse("organisation:admin_membership_add", args=["clerk.sgbo"]),
                          {"unit": lima.pk, "role": Role.COUNSELLOR})
    assert response.status_code == 302
    membership = Membership.objects.get(user=agent, unit=lima, role=Role.COUNSELLOR)
    assert membership in Membership.objects.filter(user=agent).active()
    page = admin.get(reverse("organisation:admin_agent", args=["clerk.sgbo"])).content.decode()
    assert "LIMA" in page
    # The same role twice: a clear message.
    response = admin.post(reverse("organisation:admin_membership_add", args=["clerk.sgbo"]),
                          {"unit": lima.pk, "role": Role.COUNSELLOR})
    assert response.status_code == 200
    assert "already holds this role" in response.content.decode()
    # End it: effective at once.
    response = admin.post(reverse("organisation:admin_membership_end", args=["clerk.sgbo", membership.pk]))
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.end_date == timezone.localdate()
    assert membership not in Membership.objects.filter(user=agent).active()
    # Ending it again: a message, nothing recorded.
    admin.post(reverse("organisation:admin_membership_end", args=["clerk.sgbo", membership.pk]))
    assert [e.action for e in AuditEvent.objects.unrestricted("test").filter(
        object_id=str(agent.pk), action__startswith="accounts.membership")] == [
        "accounts.membership_added", "accounts.membership_ended"]
    # Added again later: the same membership is opened again.
    response = admin.post(reverse("organisation:admin_membership_add", args=["clerk.sgbo"]),
                          {"unit": lima.pk, "role": Role.COUNSELLOR})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.end_date is None


def test_bad_membership_input(client_for):
    client = client_for(ADMIN)
    url = reverse("organisation:admin_membership_add", args=["clerk.sgbo"])
    before = Membership.objects.count()
    for data in ({"unit": "", "role": "counsellor"}, {"unit": "1", "role": "emperor"},
                 {"unit": "987654321", "role": "agent"}, {"unit": "1", "role": "agent", "start_date": "31/31/2026"}):
        response = client.post(url, data)
        assert response.status_code == 200
        assert response.context["membership_form"].errors
    assert Membership.objects.count() == before


def test_administrators_cannot_change_their_own_memberships(client_for, ministry):
    client = client_for(ADMIN)
    response = client.post(reverse("organisation:admin_membership_add", args=[ADMIN]),
                           {"unit": ministry.units["DAKAR"].pk, "role": Role.HEAD_OF_MISSION})
    assert response.status_code == 302
    assert not Membership.objects.filter(user__username=ADMIN, unit__code="DAKAR").exists()


# --- Clearances and second factor -------------------------------------------------------

def test_a_security_officer_changes_a_clearance_with_a_reason(client_for, ministry):
    client = client_for(SECURITY)
    url = reverse("organisation:admin_agent_clearance", args=["clerk.dakar"])
    crypto = ministry.users[SECURITY].clearance_compartments.get(code="CRYPTO")
    response = client.post(url, {"level": Level.SECRET, "compartments": [crypto.pk], "reason": "  "})
    assert "Give a reason" in " ".join(response.context["form"].errors["reason"])
    response = client.post(url, {"level": Level.SECRET, "compartments": [crypto.pk], "reason": "R" * 1001})
    assert "at most 1000 characters" in " ".join(response.context["form"].errors["reason"])
    assert _user("clerk.dakar").clearance_level == Level.RESTRICTED
    response = client.post(url, {"level": Level.SECRET, "compartments": [crypto.pk], "reason": "Décision 2026-14"})
    assert response.status_code == 302
    agent = _user("clerk.dakar")
    assert agent.clearance.level == Level.SECRET and agent.clearance.compartments == {"CRYPTO"}
    event = _events("accounts.clearance_changed", object_id=str(agent.pk)).get()
    assert event.actor_label == SECURITY
    assert event.details == {
        "before": {"level": 1, "compartments": []},
        "after": {"level": 3, "compartments": ["CRYPTO"]},
        "reason": "Décision 2026-14",
    }


def test_clearance_cannot_exceed_the_officers_own_nor_be_self_granted(client_for, ministry):
    client = client_for("security2")  # Secret + CRYPTO only
    personnel = ministry.users[SECURITY].clearance_compartments.get(code="PERSONNEL")
    url = reverse("organisation:admin_agent_clearance", args=["clerk.dakar"])
    response = client.post(url, {"level": Level.SECRET, "compartments": [personnel.pk], "reason": "test"})
    assert "above your own" in response.content.decode()
    response = client.post(reverse("organisation:admin_agent_clearance", args=["security2"]),
                           {"level": Level.SECRET, "compartments": [personnel.pk], "reason": "test"}, follow=True)
    assert "PERSONNEL" not in _user("security2").clearance.compartments
    assert not _events("accounts.clearance_changed").exists()


def test_reset_the_second_factor(client_for, ministry):
    from chancery.accounts import services

    hom = ministry.users["hom.dakar"]
    services.begin_totp_enrolment(user=hom)
    response = client_for(SECURITY).post(reverse("organisation:admin_agent_reset_second_factor", args=["hom.dakar"]))
    assert response.status_code == 302
    hom = _user("hom.dakar")
    assert hom.totp_secret == "" and hom.totp_confirmed_at is None
    assert _events("accounts.totp_reset", object_id=str(hom.pk), actor__username=SECURITY).exists()


# --- Recent changes and the audit log ---------------------------------------------------

def test_every_change_is_in_the_audit_log_and_on_the_home_page(client_for, ministry):
    admin = client_for("admin")
    admin.post(reverse("organisation:admin_unit_create"), _unit_post())
    admin.post(reverse("organisation:admin_agent_create"), _agent_post())
    admin.post(reverse("organisation:admin_membership_add", args=["new.agent"]),
               {"unit": ministry.units["DAKAR"].pk, "role": Role.AGENT})
    admin.post(reverse("organisation:admin_agent_clearance", args=["new.agent"]),
               {"level": Level.RESTRICTED, "reason": "posting"})
    admin.post(reverse("organisation:admin_agent_set_active", args=["new.agent"]), {"active": "0"})
    membership = Membership.objects.get(user__username="new.agent")
    admin.post(reverse("organisation:admin_membership_end", args=["new.agent", membership.pk]))
    admin.post(reverse("organisation:admin_agent_reset_second_factor", args=["new.agent"]))
    expected = [
        "organisation.unit_created", "accounts.user_created", "accounts.membership_added",
        "accounts.clearance_changed", "accounts.user_updated", "accounts.membership_ended", "accounts.totp_reset",
    ]
    recorded = list(
        AuditEvent.objects.unrestricted("test").filter(actor__username="admin").order_by("sequence")
        .values_list("action", flat=True)
    )
    assert recorded == expected
    assert verify_chain().valid
    # The home page lists them, newest first.
    page = admin.get(reverse("organisation:admin_home"))
    labels = [str(row["label"]) for row in page.context["changes"]]
    assert labels[:3] == ["Second factor reset", "Membership ended", "Agent changed"]
    html = page.content.decode()
    assert "new.agent" in html and "DAB/9" in html


def test_recent_changes_go_through_the_audit_gate(client_for):
    client_for("admin").post(reverse("organisation:admin_unit_create"), _unit_post())
    # Another administrator sees only their own changes; the auditor is not an administrator.
    assert client_for(ADMIN).get(reverse("organisation:admin_home")).context["changes"] == []
    changes = client_for("admin").get(reverse("organisation:admin_home")).context["changes"]
    assert (str(changes[0]["label"]), changes[0]["target_label"]) == ("Unit created", "DAB/9")
    security_changes = client_for(SECURITY).get(reverse("organisation:admin_home")).context["changes"]
    assert security_changes == []
