"""`plain_rows` against Ninja's own validation, on schemas with every shape it reads: resolvers,
callables, nested, optional and listed schemas; and a clear refusal of what it cannot honour."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from ninja import Field, Schema
from ninja.responses import NinjaJSONEncoder

from chancery.core.plain_rows import plain_rows


@dataclass
class Leaf:
    code: str
    when: date | None = None


@dataclass
class Node:
    pk: int
    leaf: Leaf | None
    leaves: list[Leaf] = field(default_factory=list)
    label: str = "x"

    def shout(self) -> str:
        return self.label.upper()


class LeafOut(Schema):
    code: str
    when: date | None


class NodeOut(Schema):
    id: int
    leaf: LeafOut | None
    first: LeafOut | None
    leaves: list[LeafOut]
    shout: str  # a method: called, as Ninja's getter does
    size: int

    @staticmethod
    def resolve_id(obj: Node) -> int:
        return obj.pk

    @staticmethod
    def resolve_first(obj: Node) -> Leaf | None:
        return obj.leaves[0] if obj.leaves else None

    @staticmethod
    def resolve_size(obj: Node) -> int:
        return len(obj.leaves)


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=NinjaJSONEncoder))


def test_rows_equal_validated_rows() -> None:
    nodes = [
        Node(1, None),
        Node(2, Leaf("A", date(2026, 3, 1)), [Leaf("B"), Leaf("C", date(2025, 1, 2))], label="dakar"),
    ]
    plain = plain_rows(NodeOut, nodes)
    assert _as_json(plain) == _as_json([NodeOut.from_orm(n).model_dump() for n in nodes])
    assert plain[1]["first"] == {"code": "B", "when": None} and plain[1]["shout"] == "DAKAR"


def test_refuses_what_it_cannot_honour() -> None:
    class Renamed(Schema):
        code: str = Field(alias="name")

    class WithContext(Schema):
        code: str

        @staticmethod
        def resolve_code(obj: Any, context: Any) -> str:
            return str(context)

    for schema in (Renamed, WithContext):
        with pytest.raises(TypeError):
            plain_rows(schema, [Leaf("A")])
