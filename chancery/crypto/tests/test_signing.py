from __future__ import annotations

import math

import pytest

from chancery.crypto.signing import canonical_bytes, generate_signing_key, public_key_of, sign, verify


def test_sign_and_verify() -> None:
    private, public = generate_signing_key()
    assert len(private) == 32 and len(public) == 32
    assert public_key_of(private) == public
    message = canonical_bytes({"subject": "Visite", "attachments": ["ab" * 32]})
    signature = sign(private, message)
    assert verify(public, message, signature)
    assert not verify(public, message + b" ", signature)
    assert not verify(public, message, bytes(64))
    assert not verify(public, message, signature[:-1])
    assert not verify(generate_signing_key()[1], message, signature)
    assert not verify(b"bad", message, signature)


def test_canonical_bytes_is_stable_across_key_order() -> None:
    one = {"b": 1, "a": {"y": [1, 2, {"k": None}], "x": "é"}, "c": True}
    two = {"c": True, "a": {"x": "é", "y": [1, 2, {"k": None}]}, "b": 1}
    assert canonical_bytes(one) == canonical_bytes(two)
    assert canonical_bytes(one) == '{"a":{"x":"é","y":[1,2,{"k":null}]},"b":1,"c":true}'.encode()


def test_canonical_bytes_utf8_not_escaped() -> None:
    assert canonical_bytes({"t": "مرحبا"}) == '{"t":"مرحبا"}'.encode()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_canonical_bytes_rejects_non_finite(value: float) -> None:
    with pytest.raises(ValueError):
        canonical_bytes({"x": value})


@pytest.mark.parametrize("value", [{1: "a"}, {"b": b"bytes"}, {"s": {1, 2}}, {"o": object()}])
def test_canonical_bytes_rejects_ambiguous_types(value: object) -> None:
    with pytest.raises(TypeError):
        canonical_bytes(value)
