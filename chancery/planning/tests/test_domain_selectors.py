"""Reads for the UI: lists, the document, table, timeline, calendar, ICS feed, home panel."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.http import Http404

from chancery.planning import selectors, services
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Axis, Programme

YEAR = 2026


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return sample_programme(mission=ministry.units["DAKAR"], year=YEAR, user=ministry.users["counsellor.dakar"])


def test_programme_list_and_detail(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    lima = sample_programme(mission=ministry.units["LIMA"], year=YEAR, user=u["hom.lima"], actions_per_axis=1)
    assert list(selectors.programme_list(u["plan.sg4"], {"year": YEAR})) == [dakar, lima]
    assert list(selectors.programme_list(u["plan.sg4"], {"mission": "LIMA"})) == [lima]
    assert list(selectors.programme_list(u["plan.sg4"], {"mission": str(dakar.mission_id)})) == [dakar]
    assert list(selectors.programme_list(u["plan.sg4"], {"status": "submitted"})) == []
    assert list(selectors.programme_list(u["plan.sg4"], {"q": "lima"})) == [lima]
    assert list(selectors.programme_list(u["plan.sg4"], {"region": "RAFR"})) == [dakar]
    assert list(selectors.programme_list(u["plan.sg4"], {"year": "abc"})) == []
    assert getattr(selectors.programme_list(u["plan.sg4"])[0], "action_count") == 6  # noqa: B009
    assert list(selectors.programme_list(u["desk.dab1"])) == [dakar]
    assert selectors.programme_detail(u["desk.dab1"], dakar.pk) == dakar
    with pytest.raises(Http404):
        selectors.programme_detail(u["desk.dab1"], lima.pk)
    with pytest.raises(Http404):
        selectors.programme_detail(u["desk.dab1"], "not-a-number")


def test_programme_document(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    action = Action.objects.unrestricted("t").filter(programme=dakar).first()
    assert action is not None
    services.comment(user=u["desk.dab1"], programme=dakar, body="On the action", target_type="action",
                     target_id=action.pk)
    services.comment(user=u["desk.dab1"], programme=dakar, body="Overall")
    doc = selectors.programme_document(u["desk.dab1"], dakar)
    assert doc["programme"] == dakar and doc["marking"].level == 0
    assert [b.axis.axis_type.key for b in doc["axes"]] == ["political", "economic", "cultural"]
    first = doc["axes"][0]
    assert first.objectives[0].objective is not None and len(first.objectives[0].actions) == 2
    assert len(first.actions) == 2 and len(first.indicators) == 1
    assert [c.comment.body for c in doc["comments"]] == ["Overall"]
    commented = next(a for a in doc["actions"] if a.pk == action.pk)
    assert [c.comment.body for c in commented.comments] == ["On the action"]
    assert doc["totals"]["EUR"]["requested"] == 9000
    assert doc["permissions"]["comment"] and not doc["permissions"]["edit"]
    assert doc["baseline"] is None and doc["diff"] is None
    with pytest.raises(Http404):
        selectors.programme_document(u["hom.lima"], dakar)


def test_the_documents_actions_hold_their_axis_and_objective_without_a_query(ministry: Any, dakar: Programme) -> None:
    """The document reads each action's axis and objective once, with the page's blocks: an action
    answers them from there (sealed titles opened), as they stand in the database."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chancery.core.classification import Level

    u = ministry.users
    services.update_programme(user=u["counsellor.dakar"], programme=dakar, classification=Level.RESTRICTED)
    axis = Axis.objects.unrestricted("t").filter(programme=dakar).order_by("position").first()
    assert axis is not None
    objective = services.create_objective(user=u["counsellor.dakar"], axis=axis, title="Objectif scellé")
    services.create_action(user=u["counsellor.dakar"], programme=dakar, axis=axis, title="Sans objectif")
    services.create_action(user=u["counsellor.dakar"], programme=dakar, axis=axis, title="Avec", objective=objective)
    reader = u["counsellor.dakar"]
    doc = selectors.programme_document(reader, selectors.programme_detail(reader, dakar.pk))
    with CaptureQueriesContext(connection) as queries:
        read = {
            a.pk: (a.axis.pk, a.axis.axis_type.key, a.objective.title if a.objective else None) for a in doc["actions"]
        }
    assert len(queries) == 0
    stored = {
        a.pk: (a.axis_id, a.axis.axis_type.key, a.objective.title if a.objective_id else None)
        for a in Action.objects.unrestricted("t").filter(programme=dakar)
    }
    assert read == stored and len(read) == 8
    assert ("Objectif scellé" in {title for _axis, _key, title in read.values()}) and None in {
        title for _axis, _key, title in read.values()
    }
    # Grouped as before: the action with the new objective under it, the other under no objective.
    first = next(b for b in doc["axes"] if b.axis.pk == axis.pk)
    grouped = {(ob.objective.title if ob.objective else None): [a.title for a in ob.actions] for ob in first.objectives}
    assert "Avec" in grouped["Objectif scellé"] and "Sans objectif" in grouped[None]


def test_actions_table_filters(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    table = selectors.actions_table(u["desk.dab1"], dakar, {"axis": "economic"})
    assert {a.axis.axis_type.key for a in table} == {"economic"} and len(table) == 2
    assert len(selectors.actions_table(u["desk.dab1"], dakar, {"priority": "high"})) == 3
    assert len(selectors.actions_table(u["desk.dab1"], dakar, {"status": ["proposed", "done"]})) == 6
    assert len(selectors.actions_table(u["desk.dab1"], dakar, {"q": "cultural action 2"})) == 1
    assert len(selectors.actions_table(u["desk.dab1"], dakar, {"lead": "counsellor.dakar"})) == 6
    assert len(selectors.actions_table(u["counsellor.dakar"], dakar, {"lead": "me"})) == 6
    assert len(selectors.actions_table(u["hom.lima"], dakar, {})) == 0


def test_timeline(ministry: Any, dakar: Programme) -> None:
    axis = Axis.objects.unrestricted("t").get(programme=dakar, axis_type__key="political")
    services.create_action(user=ministry.users["counsellor.dakar"], programme=dakar, axis=axis, title="Milestone",
                           target_date=date(YEAR, 7, 1))
    services.create_action(user=ministry.users["counsellor.dakar"], programme=dakar, axis=axis, title="Undated")
    data = selectors.timeline(ministry.users["plan.sg4"], dakar)
    assert data["start"] == date(YEAR, 1, 1) and data["end"] == date(YEAR, 12, 31) and len(data["months"]) == 12
    rows = data["axes"][0]["rows"]
    assert [r.action.title for r in rows][-1] == "Milestone" and rows[-1].milestone
    assert 0 <= rows[0].offset_pct < 100 and rows[0].width_pct > 0
    assert [a.title for a in data["undated"]] == ["Undated"]


def test_calendar(ministry: Any, dakar: Programme) -> None:
    cal = selectors.calendar(ministry.users["desk.dab1"], YEAR, 3)
    titles = sorted(a.title for a in cal["actions"])
    assert titles == ["Cultural action 1", "Economic action 1", "Political action 1"]
    day = next(d for week in cal["weeks"] for d in week if d["date"] == date(YEAR, 3, 15))
    assert len(day["actions"]) == 3 and day["in_month"]
    assert cal["previous"] == (YEAR, 2) and cal["next"] == (YEAR, 4)
    assert selectors.calendar(ministry.users["hom.lima"], YEAR, 3)["actions"] == []
    assert selectors.calendar(ministry.users["hom.dakar"], YEAR, 3, mine_only=True)["actions"] == []
    assert selectors.calendar(ministry.users["desk.dab1"], YEAR, 12)["next"] == (YEAR + 1, 1)


def test_ics_feed(ministry: Any, dakar: Programme) -> None:
    user = ministry.users["counsellor.dakar"]
    axis = Axis.objects.unrestricted("t").get(programme=dakar, axis_type__key="political")
    long_title = "Forum; économie, culture \\ and a very long title that needs folding " + "x" * 60
    services.create_action(user=user, programme=dakar, axis=axis, title=long_title, lead=user,
                           start_date=date(YEAR, 5, 1), end_date=date(YEAR, 5, 3))
    ics = selectors.ics_for_user(user)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "\n" not in ics.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    unfolded = ics.replace("\r\n ", "")
    assert ics.count("BEGIN:VEVENT") == 7
    assert "SUMMARY:Forum\\; économie\\, culture \\\\ and a very long title" in unfolded
    assert "DTSTART;VALUE=DATE:20260501\r\nDTEND;VALUE=DATE:20260504" in unfolded
    assert "Generic test action" not in ics  # no descriptions
    # Only the agent's own actions, and only those they can read.
    assert selectors.ics_for_user(ministry.users["hom.dakar"]).count("BEGIN:VEVENT") == 0
    Programme.objects.unrestricted("t").filter(pk=dakar.pk).update(classification=3)
    user.forget_cached_rights()
    if user.clearance_level < 3:
        assert selectors.ics_for_user(user).count("BEGIN:VEVENT") == 0


def test_home_panel(ministry: Any, dakar: Programme) -> None:
    u = ministry.users
    assert selectors.home_panel(user=u["hom.lima"]) is None
    services.submit_programme(user=u["hom.dakar"], programme=dakar)
    panel = selectors.home_panel(user=u["desk.dab1"])
    assert panel is not None and panel["template"] == "planning/_home_panel.html"
    assert list(panel["to_review"]) == [dakar]
    assert [(p, p.status) for p in panel["programmes"]] == [(dakar, "submitted")]
    mine = selectors.home_panel(user=u["counsellor.dakar"])
    assert mine is not None and len(mine["my_actions"]) == 6 and not mine["to_review"]
    planner = selectors.home_panel(user=u["plan.sg4"])
    assert planner is not None and list(planner["to_review"]) == [dakar]


def test_stats_and_permissions(ministry: Any, dakar: Programme) -> None:
    stats = selectors.stats(ministry.users["desk.dab1"], dakar)
    assert stats["total"] == 6 and stats["by_status"] == {"proposed": 6} and stats["average_progress"] == 0
    assert selectors.programme_permissions(ministry.users["hom.dakar"], dakar)["submit"]
    assert [m.code for m in selectors.missions_for_new_programme(ministry.users["hom.dakar"])] == ["DAKAR"]
    assert selectors.missions_for_new_programme(ministry.users["desk.dab1"]) == []
    assert [t.key for t in selectors.axis_types()][:3] == ["political", "economic", "cultural"]


def test_a_programme_read_through_the_gate_vouches_for_its_children_to_that_reader_only(
    ministry: Any, dakar: Programme
) -> None:
    """The programme's pages read its axes, actions, comments and achievements under it once the gate
    returned it (`_children`): for the reader it was returned to, never for another one, nor for an
    instance read around the gate."""
    u = ministry.users
    lima_head = u["hom.lima"]  # no right on Dakar's programme
    services.comment(user=u["desk.dab1"], programme=dakar, body="Overall")
    services.create_achievement(user=u["counsellor.dakar"], programme=dakar, kind="visit", title="A visit",
                                date=date(YEAR, 3, 1))

    def children(user: Any, programme: Programme) -> dict[str, int]:
        return {
            "axes": selectors.axis_list(user, programme=programme).count(),
            "actions": selectors.action_list(user, programme=programme).count(),
            "comments": len(selectors.comment_threads(user, programme)),
            "achievements": selectors.achievement_list(user, programme).count(),
        }

    gated = selectors.programme_detail(u["desk.dab1"], dakar.pk)  # read through the gate for the desk officer
    seen = children(u["desk.dab1"], gated)
    assert seen == {"axes": 3, "actions": 6, "comments": 1, "achievements": 1}
    # The same instance, marked for the desk officer, vouches for nothing to Lima's head of mission.
    assert children(lima_head, gated) == {"axes": 0, "actions": 0, "comments": 0, "achievements": 0}
    # Nor does an instance read around the gate, for anyone.
    around = Programme.objects.unrestricted("test: read around the gate").get(pk=dakar.pk)
    assert children(lima_head, around) == {"axes": 0, "actions": 0, "comments": 0, "achievements": 0}
    assert children(u["desk.dab1"], around) == seen
    assert selectors.programme_permissions(lima_head, gated)["view"] is False
