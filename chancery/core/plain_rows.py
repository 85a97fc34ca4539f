"""The rows of a long API list, read straight into JSON-ready dicts.

Django Ninja validates an answer by wrapping every object in a `DjangoGetter` and letting
pydantic ask it for each field: for the 100 rows of `GET /api/v1/inbox` (an inbox item, its
dispatch and its routing: about 3,000 field reads) that was a third of the request's time at a
million dispatches. A list's rows are objects this code built from its own queryset, so they
need no validation: `plain_rows` reads each field the way `DjangoGetter` would (the schema's
`resolve_<field>` if it has one, else the attribute, with the same conversions), in one
pass planned once per schema. `correspondence/tests/test_api_plain_rows.py` holds the rows of
the lists using it equal, field for field, to what Ninja's validation gives; the OpenAPI
document still comes from the schema, and the API fuzz checks the answers against it.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from ninja import Schema
from ninja.schema import DjangoGetter

Reader = Callable[[Any], Any]

# DjangoGetter's own conversion of a value read (a manager or queryset to a list, a callable
# called, a file to its URL): shared, so that both paths give the same value.
_convert_any: Callable[[Any], Any] = functools.partial(DjangoGetter._convert_result, None)  # type: ignore[arg-type]
# Values DjangoGetter's conversion returns as they are (none is a manager, queryset, callable or
# file): most of a row's values, passed without the four isinstance checks.
_PLAIN = frozenset({str, int, float, bool, type(None), date, datetime, list, dict})


def _nested(annotation: Any) -> tuple[str, type[Schema]] | None:
    """("one" | "optional" | "list", schema) when the field holds a nested schema."""
    if isinstance(annotation, type) and issubclass(annotation, Schema):
        return "one", annotation
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and arguments and isinstance(arguments[0], type) and issubclass(arguments[0], Schema):
        return "list", arguments[0]
    if origin in (typing.Union, types.UnionType):
        schemas = [a for a in arguments if a is not type(None)]
        if len(schemas) == 1 and isinstance(schemas[0], type) and issubclass(schemas[0], Schema):
            return "optional", schemas[0]
    return None


def _reader(schema: type[Schema], name: str, annotation: Any) -> Reader:
    resolver = schema._ninja_resolvers.get(name)
    if resolver is not None:
        if not resolver._static or resolver._takes_context:
            raise TypeError(f"{schema.__name__}.resolve_{name}: plain rows take static resolvers without context")
        function = resolver._func

        def read(obj: Any) -> Any:
            value = function(obj)
            return value if type(value) in _PLAIN else _convert_any(value)
    else:

        def read(obj: Any) -> Any:
            value = getattr(obj, name)
            return value if type(value) in _PLAIN else _convert_any(value)

    nested = _nested(annotation)
    if nested is None:
        return read
    how, inner = nested
    row = _row(inner)
    if how == "one":
        return lambda obj: row(read(obj))
    if how == "optional":
        return lambda obj: None if (value := read(obj)) is None else row(value)
    return lambda obj: [row(item) for item in read(obj)]


@functools.cache
def _row(schema: type[Schema]) -> Callable[[Any], dict[str, Any]]:
    config = schema.model_config
    if config.get("extra") == "forbid" or config.get("validate_assignment"):
        raise TypeError(f"{schema.__name__}: plain rows cannot honour extra='forbid' or validate_assignment")
    plan = []
    for name, field in schema.model_fields.items():
        if field.alias not in (None, name) or field.serialization_alias not in (None, name):
            raise TypeError(f"{schema.__name__}.{name}: plain rows do not rename fields")
        plan.append((name, _reader(schema, name, field.annotation)))
    steps = tuple(plan)
    return lambda obj: {name: read(obj) for name, read in steps}


def plain_rows(schema: type[Schema], objects: Iterable[Any]) -> list[dict[str, Any]]:
    """`objects` as the dicts `schema` would give after validation (`model_dump()`), without it."""
    row = _row(schema)
    return [row(obj) for obj in objects]
