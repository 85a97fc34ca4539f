from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from chancery.crypto.envelope import (
    associated_data,
    decrypt,
    decrypt_file,
    encode_fields,
    encrypt,
    encrypt_file,
    generate_data_key,
    reencrypt,
)
from chancery.crypto.exceptions import DecryptionError

AAD = associated_data("dispatch.body", 42, "2")


def test_round_trip() -> None:
    key = generate_data_key()
    blob = encrypt("Télégramme confidentiel".encode(), key, AAD)
    assert blob[0] == 1  # version header
    assert b"confidentiel" not in blob
    assert decrypt(blob, key, AAD) == "Télégramme confidentiel".encode()


def test_nonce_is_fresh_each_time() -> None:
    key = generate_data_key()
    assert encrypt(b"same", key, AAD) != encrypt(b"same", key, AAD)


@pytest.mark.parametrize(
    "other",
    [
        associated_data("dispatch.body", 43, "2"),  # another object
        associated_data("dispatch.subject", 42, "2"),  # another field
        associated_data("dispatch.body", 42, "1"),  # marking lowered
        b"",
    ],
)
def test_wrong_associated_data_fails(other: bytes) -> None:
    key = generate_data_key()
    blob = encrypt(b"secret", key, AAD)
    with pytest.raises(DecryptionError):
        decrypt(blob, key, other)


def test_wrong_key_fails() -> None:
    blob = encrypt(b"secret", generate_data_key(), AAD)
    with pytest.raises(DecryptionError):
        decrypt(blob, generate_data_key(), AAD)


def test_tampered_ciphertext_fails() -> None:
    key = generate_data_key()
    blob = encrypt(b"secret message", key, AAD)
    for index in range(len(blob)):  # header, nonce, body and tag alike
        tampered = bytearray(blob)
        tampered[index] ^= 0x01
        with pytest.raises(DecryptionError):
            decrypt(bytes(tampered), key, AAD)
    with pytest.raises(DecryptionError):
        decrypt(blob[:-1], key, AAD)
    with pytest.raises(DecryptionError):
        decrypt(blob[:5], key, AAD)


def test_associated_data_is_unambiguous() -> None:
    assert encode_fields("ab", "c") != encode_fields("a", "bc")
    assert associated_data("a", "b|c", "d") != associated_data("a|b", "c", "d")
    assert associated_data("dispatch", 7, "1") == associated_data("dispatch", "7", "1")
    with pytest.raises(TypeError):
        associated_data("dispatch", True, "1")
    with pytest.raises(ValueError):
        associated_data("", 1, "1")


def test_reencrypt_rebinds() -> None:
    key = generate_data_key()
    new_aad = associated_data("dispatch.body", 42, "1")
    blob = reencrypt(encrypt(b"x", key, AAD), key, AAD, new_aad)
    assert decrypt(blob, key, new_aad) == b"x"
    with pytest.raises(DecryptionError):
        decrypt(blob, key, AAD)


def test_bad_key_length_rejected() -> None:
    with pytest.raises(ValueError):
        encrypt(b"x", b"short", AAD)


def test_file_round_trip(tmp_path: Path) -> None:
    key = generate_data_key()
    payload = os.urandom(200_000)
    src = tmp_path / "in.bin"
    src.write_bytes(payload)
    dst = tmp_path / "store" / "att.enc"
    info = encrypt_file(src, dst, key, AAD)
    assert info.size == len(payload)
    assert len(info.sha256) == 64
    assert payload not in dst.read_bytes()
    assert decrypt_file(dst, key, AAD) == payload
    # File objects work too.
    encrypt_file(io.BytesIO(b"from a file object"), dst, key, AAD)
    with dst.open("rb") as handle:
        assert decrypt_file(handle, key, AAD) == b"from a file object"
    assert [p.name for p in dst.parent.iterdir()] == ["att.enc"]


def test_file_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dst = tmp_path / "store" / "att.enc"

    def boom(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("chancery.crypto.envelope.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        encrypt_file(io.BytesIO(b"data"), dst, generate_data_key(), AAD)
    assert list(dst.parent.iterdir()) == []
