"""A column's identity, computed without `inspect` (Django's `Col.identity`, the same value).

Django hashes every selected column when it compiles an ordered query (`SQLCompiler._order_by_pairs`
maps each select expression to its position), and a column's hash is its `identity`, which
`BaseExpression` builds by binding the constructor's arguments to `inspect.signature(__init__)`:
about 15 µs a column. A programme read with its mission and key selects about 60 columns, and a
home page compiles a dozen such queries: 1.5 ms of a 20 ms page at a million dispatches. `Col`'s
constructor is `(alias, target, output_field=None)`, so the bound arguments are those three in
that order, the third None when not given; the tuple below is what `identity` returns for them.
`chancery/core/tests/test_expressions.py` compares it with Django's own for every column of every
model, given each way a column is built.
"""

from __future__ import annotations

from typing import Any

from django.db.models.expressions import Col, Expression
from django.utils.functional import cached_property

_COL_PARAMETERS = ("alias", "target", "output_field")


def col_identity(col: Col) -> tuple[Any, ...]:
    args, kwargs = col._constructor_args  # type: ignore[attr-defined]  # recorded by @deconstructible
    values = dict(zip(_COL_PARAMETERS, args, strict=False)) | kwargs
    known = len(args) <= len(_COL_PARAMETERS) and values.keys() <= set(_COL_PARAMETERS)
    if not known or not {"alias", "target"} <= values.keys():
        # Not a call this shortcut knows: Django's own way (which raises for a bad call as before).
        return Expression.identity.func(col)  # type: ignore[attr-defined]
    identity = Expression._identity  # type: ignore[attr-defined]
    return (Col, *((name, identity(values.get(name))) for name in _COL_PARAMETERS))


def install() -> None:
    """Give `Col` the fast identity (from `CoreConfig.ready`)."""
    identity = cached_property(col_identity)
    identity.__set_name__(Col, "identity")
    Col.identity = identity  # type: ignore[assignment]
