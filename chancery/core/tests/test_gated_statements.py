"""`core.statements.GatedStatement`: a gated read compiled once per reader and rights, never run
for other rights than those it was compiled for."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from chancery.accounts.models import Membership, User
from chancery.accounts.roles import Role
from chancery.core.statements import GatedStatement, rights_key
from chancery.core.tests.test_statements import _compilations
from chancery.correspondence import selectors
from chancery.correspondence.models import Dispatch, Routing
from chancery.correspondence.tests.domain_helpers import sent

pytestmark = pytest.mark.django_db


def _routed(user: User) -> Any:
    return selectors.inbox(user, status="open").select_related("dispatch__sending_unit", "unit")[:50]


def _fresh(ministry: Any, name: str) -> User:
    """The agent as a new request reads them (no rights cached on the instance)."""
    return User.objects.unrestricted("test: the agent of a new request").get(pk=ministry.users[name].pk)


def _seen(rows: Any) -> list[tuple[Any, ...]]:
    return [(r.pk, r.dispatch_id, r.dispatch.reference, r.dispatch.sending_unit.code, r.unit.code, r.overdue)
            for r in rows]


@pytest.fixture
def routed(ministry: Any) -> list[Dispatch]:
    return [
        sent(ministry, routings=[("DAB/1", "action"), ("DG7/1", "info")]),
        sent(ministry, author="hom.dakar", classification=3, routings=[("DAB/1", "info")]),
        sent(ministry, author="hom.dakar", classification=2, routings=[("DAB/1", "action")]),
        sent(ministry, author="sg", unit="SG", head="sg", classification=2, compartments=["CRYPTO"],
             routings=[("SG/SEC", "action"), ("DAB/1", "info")]),
    ]


READERS = ["desk.dab1", "head.dab1", "head.dg71", "director.dab", "security", "security2", "counsellor.dakar"]


def test_each_reader_reads_what_the_queryset_gives_compiled_once(ministry: Any, routed: Any, monkeypatch: Any) -> None:
    statement = GatedStatement(_routed, Dispatch)
    compiled = _compilations(monkeypatch)
    for name in [*READERS, *READERS]:  # each twice: the second read runs the SQL kept for them
        user = _fresh(ministry, name)
        assert _seen(statement(user)) == _seen(_routed(user)), name
    # the querysets compiled every time (14), the statement once per reader (7)
    assert compiled.count(Routing) == 2 * len(READERS) + len(READERS)
    assert any(_seen(_routed(_fresh(ministry, name))) for name in READERS)  # not all empty


def test_a_change_of_rights_is_a_new_statement(ministry: Any, routed: Any) -> None:
    """A membership ended, a unit joined, a clearance lowered: the next read is compiled for the
    new rights, never the SQL kept for the old ones."""
    statement = GatedStatement(_routed, Dispatch)
    desk = _fresh(ministry, "desk.dab1")
    before = _seen(statement(desk))
    assert before and {row[4] for row in before} == {"DAB/1"}

    Membership.objects.filter(user=desk, unit=ministry.units["DAB/1"]).update(end_date=timezone.localdate())
    gone = _fresh(ministry, "desk.dab1")
    assert rights_key(gone) != rights_key(desk)
    assert _seen(statement(gone)) == _seen(_routed(gone)) == []

    Membership.objects.create(user=desk, unit=ministry.units["DG7/1"], role=Role.AGENT, start_date=date(2020, 1, 1))
    moved = _fresh(ministry, "desk.dab1")
    assert {row[4] for row in _seen(statement(moved))} == {"DG7/1"}
    assert _seen(statement(moved)) == _seen(_routed(moved))

    Membership.objects.filter(user=desk, unit=ministry.units["DAB/1"]).update(end_date=None)
    back = _fresh(ministry, "desk.dab1")
    cleared = _seen(statement(back))
    assert routed[2].reference in {row[2] for row in cleared}  # Confidentiel: seen at level 2
    back.clearance_level = 0
    back.save(update_fields=["clearance_level"])
    lowered = _fresh(ministry, "desk.dab1")
    assert _seen(statement(lowered)) == _seen(_routed(lowered))
    assert routed[2].reference not in {row[2] for row in _seen(statement(lowered))}


def test_two_readers_with_the_same_rights_do_not_share_a_statement(ministry: Any, routed: Any) -> None:
    """The reader is in the key: a read naming them (their own actions, their own drafts) is theirs."""
    first, second = _fresh(ministry, "security"), _fresh(ministry, "security2")
    assert rights_key(first) != rights_key(second)
    assert rights_key(first, (Dispatch,))[0] == first.pk  # type: ignore[index]


def test_no_key_and_no_statement_for_who_is_not_an_active_agent(ministry: Any, routed: Any) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert rights_key(None) is None and rights_key(AnonymousUser()) is None
    inactive = _fresh(ministry, "desk.dab1")
    inactive.is_active = False
    assert rights_key(inactive) is None
    assert list(GatedStatement(_routed, Dispatch)(inactive)) == list(_routed(inactive)) == []


def test_the_key_holds_the_day_and_the_language(ministry: Any) -> None:
    from django.utils import translation

    desk = _fresh(ministry, "desk.dab1")
    with translation.override("fr"):
        in_french = rights_key(desk)
    with translation.override("en"):
        in_english = rights_key(desk)
    assert in_french != in_english and timezone.localdate() in in_french  # type: ignore[operator]


def test_a_unit_moved_into_an_overseen_region_is_a_new_statement(ministry: Any, routed: Any) -> None:
    """The tree changes under a director's oversight with no change to their own memberships: the
    gate keys named (`Dispatch.gate_key`: the units overseen) make it a new statement."""
    from chancery.organisation.services import update_unit

    statement = GatedStatement(lambda user: selectors.visible_dispatches(user).order_by("pk"), Dispatch)
    director = _fresh(ministry, "director.dab")
    outside = routed[0]  # sent by DAKAR to DAB/1 and DG7/1; the director oversees DAB
    beyond = sent(ministry, author="hom.lima", unit="LIMA", head="hom.lima", routings=[("DG7/1", "action")])
    assert outside.pk in {d.pk for d in statement(director)}
    assert beyond.pk not in {d.pk for d in statement(director)}

    update_unit(actor=ministry.users["admin"], unit=ministry.units["DG7/1"], parent=ministry.units["DAB"])
    director = _fresh(ministry, "director.dab")
    assert beyond.pk in {d.pk for d in statement(director)}
    assert [d.pk for d in statement(director)] == [d.pk for d in selectors.visible_dispatches(director).order_by("pk")]


def test_the_readers_seen_last_are_kept(ministry: Any, routed: Any, monkeypatch: Any) -> None:
    statement = GatedStatement(_routed, Dispatch, kept=2)
    compiled = _compilations(monkeypatch)
    readers = [_fresh(ministry, name) for name in ("desk.dab1", "head.dg71", "security", "desk.dab1", "security")]
    for user in readers:
        assert _seen(statement(user)) == _seen(_routed(user))
    # desk.dab1 was dropped for security (two kept): compiled again; security was still kept
    assert compiled.count(Routing) == len(readers) + 4


def test_compiled_statements_keep_nothing_for_a_reader_without_a_key() -> None:
    from chancery.core.db import CompiledStatements

    kept: CompiledStatements[int] = CompiledStatements()
    built: list[int] = []

    def build(n: int) -> int:
        built.append(n)
        return n

    assert kept.get(None, lambda: build(1)) == 1 and kept.get(None, lambda: build(2)) == 2
    assert built == [1, 2] and len(kept) == 0
    assert kept.get(("reader",), lambda: 3) == 3 and kept.get(("reader",), lambda: 4) == 3 and len(kept) == 1


def test_values_are_run_with_the_statement_kept_for_the_reader(ministry: Any, routed: Any, monkeypatch: Any) -> None:
    """A statement with a value besides the reader is compiled once per reader, not per value, and
    each value gives the queryset's rows."""

    def one(user: User, pk: int) -> Any:
        return Dispatch.objects.visible_to(user).filter(pk=pk).select_related("sending_unit")

    statement = GatedStatement(one, Dispatch)
    compiled = _compilations(monkeypatch)
    readers = ["desk.dab1", "counsellor.dakar", "security"]
    for name in readers:
        user = _fresh(ministry, name)
        for dispatch in [*routed, *routed]:
            expected = [(d.pk, d.sending_unit.code) for d in one(user, dispatch.pk)]
            assert [(d.pk, d.sending_unit.code) for d in statement(user, pk=dispatch.pk)] == expected, name
    # the querysets compiled every time (3 readers x 8 reads), the statement once per reader
    assert compiled.count(Dispatch) == 3 * 8 + 3
    seen = {(name, d.pk) for name in readers for d in routed if statement(_fresh(ministry, name), pk=d.pk)}
    assert 0 < len(seen) < len(readers) * len(routed)  # some read, some out of scope
    with pytest.raises(TypeError):
        statement(_fresh(ministry, "desk.dab1"), pk=str(routed[0].pk))  # type: ignore[arg-type]  # ids only
