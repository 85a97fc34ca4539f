"""`Col.identity` (chancery.core.expressions) is Django's, computed without `inspect`."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.db.models.expressions import Col, Expression

from chancery.core.expressions import col_identity


def _djangos(col: Col) -> tuple:
    return Expression.identity.func(col)  # type: ignore[attr-defined]


def _columns() -> list[tuple[str, Col]]:
    built = []
    for model in apps.get_models():
        fields = model._meta.concrete_fields
        other = models.IntegerField()
        for field in fields:
            label = f"{model._meta.label}.{field.name}"
            built += [
                (f"{label} (alias, target)", Col("T1", field)),
                (f"{label} (alias, target, target)", Col("T1", field, field)),
                (f"{label} output_field=", Col("T2", field, output_field=other)),
                (f"{label} keywords", Col(alias="T3", target=field, output_field=fields[0])),
                (f"{label} no alias", Col(None, field)),  # type: ignore[arg-type]  # as Django builds some
            ]
    return built


def test_identity_is_djangos_for_every_column_of_every_model() -> None:
    columns = _columns()
    assert len(columns) > 500  # every model's fields, each built five ways
    for label, col in columns:
        assert col_identity(col) == _djangos(col), label
        assert col.identity == _djangos(col), label  # the installed property is the fast one


def test_equal_and_unequal_columns_stay_so() -> None:
    from chancery.correspondence.models import Dispatch

    subject, body = Dispatch._meta.get_field("subject"), Dispatch._meta.get_field("body")
    assert Col("T1", subject) == Col("T1", subject)
    assert hash(Col("T1", subject)) == hash(Col("T1", subject))
    assert Col("T1", subject) != Col("T2", subject)
    assert Col("T1", subject) != Col("T1", body)
    # Django tells apart an output field left out from one given, even when it is the target.
    assert Col("T1", subject) != Col("T1", subject, subject)
    assert Col("T1", subject, models.IntegerField()) != Col("T1", subject, models.CharField())


def test_a_call_it_does_not_know_goes_to_django() -> None:
    from chancery.correspondence.models import Dispatch

    col = Col("T1", Dispatch._meta.get_field("subject"))
    col._constructor_args = (("T1", col.target, None, "extra"), {})  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        col_identity(col)  # Django's own binding refuses a fourth argument, as before


def test_ordered_queries_compile_as_before() -> None:
    """The ordering of a query that selects a column it orders by refers to its position, found by
    hashing the select: the compiled SQL is the same with Django's identity and the fast one."""
    from chancery.correspondence.models import Dispatch

    def compiled() -> str:
        qs = Dispatch.objects.unrestricted("test: SQL only").values("id", "dated").order_by("-dated", "id")
        return str(qs.query)

    fast = compiled()
    saved = Col.__dict__["identity"]
    try:
        del Col.identity  # back to BaseExpression's
        assert compiled() == fast
    finally:
        Col.identity = saved  # type: ignore[method-assign]
    assert "ORDER BY" in fast
