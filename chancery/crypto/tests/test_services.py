from __future__ import annotations

import base64
import logging
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings

from chancery.crypto import keystore
from chancery.crypto.envelope import associated_data, decrypt, encrypt, wrap_key
from chancery.crypto.exceptions import KeyUnavailable, RotationError
from chancery.crypto.models import DataKey, KeyRotation, SigningKey
from chancery.crypto.services import (
    key_scope,
    new_data_key,
    retire_signing_key,
    rotate_keys,
    sign_for,
    signing_key_for,
    unwrap,
    verify_signature,
)
from chancery.crypto.signing import canonical_bytes

pytestmark = pytest.mark.django_db


def protect(count: int) -> dict[int, tuple[bytes, bytes]]:
    """Stand-in for dispatches: per data key, (ciphertext, plaintext)."""
    store = {}
    for index in range(count):
        row, key = new_data_key()
        plain = f"dispatch {index}".encode()
        store[row.pk] = (encrypt(plain, key, associated_data("dispatch", row.pk, "2")), plain)
    return store


def assert_all_readable(store: dict[int, tuple[bytes, bytes]]) -> None:
    for row in DataKey.objects.filter(pk__in=store):
        ciphertext, plain = store[row.pk]
        assert decrypt(ciphertext, unwrap(data_key=row), associated_data("dispatch", row.pk, "2")) == plain


def test_new_data_key_round_trip() -> None:
    row, key = new_data_key()
    row.refresh_from_db()
    assert row.kek_id == keystore.current_kek().id
    assert key not in bytes(row.wrapped_key)
    assert unwrap(data_key=row) == key
    assert base64.b64encode(key).decode() not in repr(row) + str(row)


def test_key_scope_reads_each_kek_once_and_forgets_it_after(data_dir: Path) -> None:
    row, key = new_data_key()
    other, other_key = new_data_key()
    with key_scope():
        assert unwrap(data_key=row) == key
        for path in (data_dir / "keys").glob("kek-*.key"):
            path.rename(path.with_suffix(".away"))
        # Inside the scope neither the key already unwrapped nor its KEK file is read again ...
        assert unwrap(data_key=row) == key
        with key_scope():  # a nested scope shares the outer one
            assert unwrap(data_key=row) == key
            # ... and another key wrapped by the same KEK is unwrapped with the KEK already read.
            assert unwrap(data_key=other) == other_key
    # Once the scope is over nothing is remembered.
    for wrapped in (row, other):
        with pytest.raises(KeyUnavailable):
            unwrap(data_key=wrapped)
    for path in (data_dir / "keys").glob("kek-*.away"):
        path.rename(path.with_suffix(".key"))
    assert unwrap(data_key=other) == other_key


def test_unwrap_without_kek_is_key_unavailable(data_dir: Path) -> None:
    row, _key = new_data_key()
    for path in (data_dir / "keys").glob("kek-*.key"):
        path.unlink()
    with pytest.raises(KeyUnavailable):
        unwrap(data_key=row)


def test_rotation_rewraps_everything_and_leaves_ciphertexts(data_dir: Path) -> None:
    store = protect(7)
    signing_key = signing_key_for(owner="DAF")
    encrypted_private_before = bytes(signing_key.encrypted_private_key)
    old = keystore.current_kek_id()
    wrapped_before = {row.pk: bytes(row.wrapped_key) for row in DataKey.objects.all()}

    report = rotate_keys(batch_size=3)

    assert report.rewrapped == 8 and not report.resumed
    assert report.source_kek_ids == (old,)
    assert report.target_kek_id == keystore.current_kek_id() != old
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {report.target_kek_id}
    for row in DataKey.objects.all():
        assert bytes(row.wrapped_key) != wrapped_before[row.pk]
    assert_all_readable(store)
    signing_key.refresh_from_db()
    assert bytes(signing_key.encrypted_private_key) == encrypted_private_before
    _id, signature = sign_for(owner="DAF", message=b"m")
    assert verify_signature(signing_key_id=signing_key.pk, message=b"m", signature=signature)
    assert (data_dir / "keys" / f"kek-{old}.key").exists()  # kept without --retire
    assert KeyRotation.objects.get().state == KeyRotation.State.FINISHED
    # New data keys use the new KEK.
    assert new_data_key()[0].kek_id == report.target_kek_id


def test_interrupted_rotation_resumes(data_dir: Path) -> None:
    store = protect(10)
    old = keystore.current_kek_id()
    assert old is not None

    def interrupt(done: int, total: int) -> None:
        raise KeyboardInterrupt  # as if killed right after the first batch committed

    with pytest.raises(KeyboardInterrupt):
        rotate_keys(batch_size=4, progress=interrupt)
    rotation = KeyRotation.objects.get()
    assert rotation.state == KeyRotation.State.RUNNING and rotation.rewrapped == 4
    kek_ids = list(DataKey.objects.values_list("kek_id", flat=True))
    assert kek_ids.count(rotation.target_kek_id) == 4 and kek_ids.count(old) == 6
    assert_all_readable(store)  # mixed state: every row still readable

    seen: list[tuple[int, int]] = []
    report = rotate_keys(batch_size=4, progress=lambda done, total: seen.append((done, total)))
    assert report.resumed and report.rotation_id == rotation.pk
    assert report.target_kek_id == rotation.target_kek_id  # no third KEK
    assert report.rewrapped == 6 and report.total_rewrapped == 10
    assert seen == [(4, 6), (6, 6)]
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {rotation.target_kek_id}
    assert len(keystore.file_kek_ids()) == 2
    assert_all_readable(store)


def test_failure_inside_a_batch_rolls_the_batch_back(monkeypatch: pytest.MonkeyPatch) -> None:
    store = protect(5)
    calls = 0

    def flaky_wrap(*args: object, **kwargs: object) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("crash mid-batch")
        return wrap_key(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("chancery.crypto.services.wrap_key", flaky_wrap)
    with pytest.raises(RuntimeError):
        rotate_keys(batch_size=5)
    old = keystore.get_kek(DataKey.objects.first().kek_id)  # type: ignore[union-attr]
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {old.id}  # whole batch undone
    assert_all_readable(store)
    monkeypatch.undo()
    assert rotate_keys().rewrapped == 5
    assert_all_readable(store)


def test_retire_moves_only_unreferenced_keks(data_dir: Path) -> None:
    store = protect(2)
    first = keystore.current_kek_id()
    rotate_keys()
    second = keystore.current_kek_id()
    report = rotate_keys(retire=True)
    assert set(report.retired_kek_ids) == {first, second}
    assert keystore.file_kek_ids() == [report.target_kek_id]
    assert (data_dir / "keys" / "retired" / f"kek-{first}.key").exists()
    assert_all_readable(store)


def test_rotation_with_master_key_moves_file_keks_to_it(settings: Settings, master_key: str) -> None:
    settings.CHANCERY_MASTER_KEY = None
    store = protect(3)
    settings.CHANCERY_MASTER_KEY = master_key
    assert_all_readable(store)  # file KEKs still read while the master key is set
    report = rotate_keys()
    assert report.rewrapped == 3
    assert set(DataKey.objects.values_list("kek_id", flat=True)) == {keystore.master_kek().id}  # type: ignore[union-attr]
    assert_all_readable(store)


def test_rotation_refuses_when_an_old_kek_is_missing(data_dir: Path) -> None:
    protect(1)
    for path in (data_dir / "keys").glob("kek-*.key"):
        path.unlink()
    with pytest.raises(RotationError, match="cannot be unwrapped"):
        rotate_keys()


def test_command_prints_one_line(data_dir: Path) -> None:
    protect(2)
    out = StringIO()
    call_command("rotate_keys", "--batch-size", "1", "--retire", stdout=out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert "2 data key(s) re-wrapped" in lines[0] and "retired" in lines[0]


def test_command_error_is_one_clear_line(data_dir: Path) -> None:
    protect(1)
    for path in (data_dir / "keys").glob("kek-*.key"):
        path.unlink()
    with pytest.raises(CommandError, match="restore it from the key backup"):
        call_command("rotate_keys")


def test_no_key_material_in_logs(caplog: pytest.LogCaptureFixture, data_dir: Path) -> None:
    caplog.set_level(logging.DEBUG)
    protect(2)
    rotate_keys(retire=True)
    keys = [keystore.get_kek(kek_id).key for kek_id in keystore.file_kek_ids()]
    for key in keys:
        assert base64.b64encode(key).decode() not in caplog.text
        assert key.hex() not in caplog.text


def test_signing_keys() -> None:
    key = signing_key_for(owner="AFR/DAO")
    assert signing_key_for(owner="AFR/DAO").pk == key.pk  # created once
    assert len(bytes(key.public_key)) == 32
    message = canonical_bytes({"subject": "Note", "attachments": ["0" * 64]})
    key_id, signature = sign_for(owner="AFR/DAO", message=message)
    assert key_id == key.pk
    assert verify_signature(signing_key_id=key_id, message=message, signature=signature)
    assert not verify_signature(signing_key_id=key_id, message=message + b"x", signature=signature)
    assert not verify_signature(signing_key_id=key_id + 999, message=message, signature=signature)

    retire_signing_key(owner="AFR/DAO")
    new_id, _sig = sign_for(owner="AFR/DAO", message=message)
    assert new_id != key_id
    assert verify_signature(signing_key_id=key_id, message=message, signature=signature)  # old still verifies
    assert SigningKey.objects.filter(owner="AFR/DAO", retired_at__isnull=True).count() == 1


def test_swapped_encrypted_private_keys_fail() -> None:
    one = signing_key_for(owner="A")
    two = signing_key_for(owner="B")
    SigningKey.objects.filter(pk=one.pk).update(encrypted_private_key=bytes(two.encrypted_private_key))
    with pytest.raises(Exception, match="authentication"):
        sign_for(owner="A", message=b"m")


def test_rotation_refuses_an_unsafe_key_store_before_starting(data_dir: Path) -> None:
    protect(1)
    for path in (data_dir / "keys").glob("kek-*.key"):
        path.chmod(0o644)
    with pytest.raises(CommandError, match="chmod 600"):
        call_command("rotate_keys")
    assert not KeyRotation.objects.exists()
    assert len(keystore.file_kek_ids()) == 1
