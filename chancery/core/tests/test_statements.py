"""`core.statements.Statement`: the rows the queryset gives, from SQL compiled once."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count, Prefetch
from django.db.models.sql.compiler import SQLCompiler

from chancery.core.gate import GateBypassError, enforcing
from chancery.core.statements import Statement
from chancery.organisation.models import Unit
from chancery.planning.demo import sample_programme
from chancery.planning.models import Action, Programme

REASON = "test: rows compared with the statement's"


def _actions(programme: Any) -> Any:
    return (
        Action.objects.unrestricted(REASON)
        .filter(programme=programme)
        .select_related("lead", "axis__axis_type", "objective__axis")
        .prefetch_related(Prefetch("partner_units", queryset=Unit.objects.unrestricted(REASON).order_by("code")))
        .annotate(partners=Count("partner_units", distinct=True))
        .defer("risk_note")
        .order_by("axis__position", "position", "pk")
    )


def _seen(actions: Any) -> list[tuple[Any, ...]]:
    """What a page reads of each action: its columns, the related rows selected with it, the
    prefetched ones, the annotation, the sealed title opened, the columns left to read later."""
    return [
        (a.pk, a.title, a.description, a.status, a.budget_requested, a.start_date, a.created_at,
         a.lead.username if a.lead else None, a.axis.axis_type.key, a.objective.axis_id if a.objective else None,
         [u.code for u in a.partner_units.all()], a.partners, sorted(a.get_deferred_fields()))
        for a in actions
    ]


@pytest.fixture
def programmes(ministry: Any) -> list[Programme]:
    users = ministry.users
    return [
        sample_programme(mission=ministry.units["DAKAR"], year=2026, user=users["counsellor.dakar"]),
        sample_programme(mission=ministry.units["LIMA"], year=2026, user=users["hom.lima"], actions_per_axis=1),
        sample_programme(mission=ministry.units["DAKAR"], year=2025, user=users["counsellor.dakar"],
                         actions_per_axis=3),
    ]


def _compilations(monkeypatch: Any) -> list[Any]:
    """Each query Django compiles from here on (its model), counted where compiling starts."""
    compiled: list[Any] = []
    setup_query = SQLCompiler.setup_query

    def counting(self: SQLCompiler, *args: Any, **kwargs: Any) -> Any:
        compiled.append(self.query.model)
        return setup_query(self, *args, **kwargs)

    monkeypatch.setattr(SQLCompiler, "setup_query", counting)
    return compiled


def test_the_rows_are_the_querysets_for_every_value(programmes: list[Programme], monkeypatch: Any) -> None:
    statement = Statement(_actions)
    compiled = _compilations(monkeypatch)
    for programme in [*programmes, *programmes]:  # each twice: the SQL kept serves again
        expected = _seen(_actions(programme.pk))
        assert expected  # every sample programme has actions
        assert _seen(statement(programme=programme.pk)) == expected
    # The plain querysets compiled each time (six); the statement once, on its first call. The
    # prefetches are queries of their own, compiled as usual by both (twelve).
    assert compiled.count(Action) == 6 + 1
    assert compiled.count(Unit) == 12


def test_a_programme_without_rows_reads_none(programmes: list[Programme]) -> None:
    statement = Statement(_actions)
    assert _seen(statement(programme=programmes[0].pk))
    assert list(statement(programme=987_654_321)) == []


def test_what_is_made_from_it_is_compiled_as_usual(programmes: list[Programme]) -> None:
    """Refining the statement's queryset asks another question: answered by its own SQL."""
    statement = Statement(_actions)
    first = programmes[0].pk
    list(statement(programme=first))  # compiled
    rows = statement(programme=first)
    assert rows.count() == _actions(first).count()
    assert [a.pk for a in rows.filter(status="done")] == [a.pk for a in _actions(first).filter(status="done")]
    assert rows.first().pk == _actions(first).first().pk
    assert rows.exclude(pk__in=[a.pk for a in _actions(first)]).exists() is False
    assert [a.pk for a in rows] == [a.pk for a in _actions(first)]  # the statement itself, still right


def test_rows_as_values(programmes: list[Programme]) -> None:
    statement = Statement(lambda programme: _actions(programme).values_list("pk", "lead__username"))
    flat = Statement(lambda mission: Programme.objects.unrestricted(REASON).filter(mission=mission)
                     .order_by("year").values_list("year", flat=True))
    for programme in programmes:
        assert list(statement(programme=programme.pk)) == list(
            _actions(programme.pk).values_list("pk", "lead__username"))
    assert list(flat(mission=programmes[0].mission_id)) == [2025, 2026]
    assert list(flat(mission=programmes[1].mission_id)) == [2026]


def test_a_value_written_into_the_sql_is_refused() -> None:
    """A value the SQL holds as text (not as a parameter) cannot be replaced: refused when compiled."""
    def written_in(programme: int) -> Any:
        where = [f"programme_id = {int(programme)}"]
        return Action.objects.unrestricted(REASON).extra(where=where)  # noqa: S610 - an integer, on purpose

    inlined = Statement(written_in)
    with pytest.raises(ValueError, match="parameters"):
        inlined(programme=1)


def test_values_are_ids_and_the_statements_own(programmes: list[Programme]) -> None:
    statement = Statement(_actions)
    with pytest.raises(TypeError):
        statement(programme=str(programmes[0].pk))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes programme"):
        statement(mission=programmes[0].mission_id)


def test_the_gate_still_decides(programmes: list[Programme]) -> None:
    """A statement is a queryset: during a request, one not read through the gate is refused."""
    ungated = Statement(lambda programme: Action.objects.filter(programme=programme))
    with enforcing(), pytest.raises(GateBypassError):
        list(ungated(programme=programmes[0].pk))


def test_prefetched_is_what_prefetch_related_gives(programmes: list[Programme]) -> None:
    """`prefetched` fills a relation as `prefetch_related` does: the same rows from `.all()` without
    a query, each row of a reverse foreign key holding the instance, and what is made from the
    relation (`filter`) asked of the database as usual."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chancery.core.statements import prefetched

    programme_id = programmes[0].pk
    expected = Programme.objects.unrestricted(REASON).prefetch_related("actions").get(pk=programme_id)
    action = Action.objects.unrestricted(REASON).filter(programme_id=programme_id).order_by("pk").first()
    assert action is not None
    action.partner_units.set(list(Unit.objects.unrestricted(REASON).order_by("code")[:3]))
    theirs = Action.objects.unrestricted(REASON).prefetch_related("partner_units").get(pk=action.pk)

    programme = Programme.objects.unrestricted(REASON).get(pk=programme_id)
    prefetched(programme, "actions", Statement(lambda p: Action.objects.unrestricted(REASON).filter(programme=p))(
        p=programme_id))
    ours = Action.objects.unrestricted(REASON).get(pk=action.pk)
    prefetched(ours, "partner_units", Unit.objects.unrestricted(REASON).filter(
        pk__in=[u.pk for u in theirs.partner_units.all()]))
    with CaptureQueriesContext(connection) as queries:
        assert [a.pk for a in programme.actions.all()] == [a.pk for a in expected.actions.all()]
        assert all(a.programme is programme for a in programme.actions.all())
        assert sorted(u.code for u in ours.partner_units.all()) == sorted(u.code for u in theirs.partner_units.all())
    assert len(queries) == 0
    done = [a.pk for a in programme.actions.filter(status="done")]
    assert done == [a.pk for a in expected.actions.filter(status="done")]
    assert ours.partner_units.filter(code=theirs.partner_units.all()[0].code).count() == 1
