from __future__ import annotations

import base64
import pickle
import stat
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings

from chancery.crypto import keystore
from chancery.crypto.checks import check_keystore
from chancery.crypto.exceptions import InsecureKeyStore, KeyStoreError, KeyUnavailable


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_creates_private_key_files(data_dir: Path) -> None:
    kek = keystore.current_kek()
    keys = data_dir / "keys"
    key_file = keys / f"kek-{kek.id}.key"
    assert mode(keys) == 0o700
    assert mode(key_file) == 0o600
    assert mode(keys / "current") == 0o600
    assert base64.b64decode(key_file.read_text()) == kek.key
    assert (keys / "current").read_text().strip() == kek.id
    assert keystore.current_kek().key == kek.key  # stable, not re-created
    assert sorted(p.name for p in keys.iterdir()) == ["current", key_file.name]  # no temp files left


def test_repr_hides_key() -> None:
    kek = keystore.current_kek()
    for text in (repr(kek), str(kek), f"{kek}"):
        assert kek.id in text
        assert base64.b64encode(kek.key).decode() not in text
        assert kek.key.hex() not in text
    with pytest.raises(TypeError):
        pickle.dumps(kek)
    with pytest.raises(AttributeError):
        kek.id = "x"


def test_create_does_not_switch_and_activate_does() -> None:
    first = keystore.current_kek()
    second = keystore.create_kek()
    assert second.id != first.id
    assert keystore.current_kek().id == first.id
    keystore.activate_kek(second.id)
    assert keystore.current_kek().id == second.id
    assert keystore.get_kek(first.id).key == first.key  # old key still readable


def test_missing_key_is_a_clear_error() -> None:
    keystore.current_kek()
    with pytest.raises(KeyUnavailable, match="0123456789abcdef"):
        keystore.get_kek("0123456789abcdef")
    with pytest.raises(KeyUnavailable):
        keystore.get_kek("../../etc/passwd")
    with pytest.raises(KeyUnavailable):
        keystore.activate_kek("0123456789abcdef")


def test_group_readable_key_file_is_refused(data_dir: Path) -> None:
    kek = keystore.current_kek()
    key_file = data_dir / "keys" / f"kek-{kek.id}.key"
    key_file.chmod(0o640)
    with pytest.raises(InsecureKeyStore, match="chmod 600"):
        keystore.current_kek()
    assert [message.id for message in check_keystore()] == ["crypto.E001"]
    key_file.chmod(0o600)
    assert check_keystore() == []
    (data_dir / "keys").chmod(0o755)
    with pytest.raises(InsecureKeyStore, match="chmod 700"):
        keystore.get_kek(kek.id)


def test_damaged_key_file_is_detected(data_dir: Path) -> None:
    kek = keystore.current_kek()
    key_file = data_dir / "keys" / f"kek-{kek.id}.key"
    key_file.write_text(base64.b64encode(bytes(32)).decode())
    with pytest.raises(KeyStoreError, match="damaged"):
        keystore.get_kek(kek.id)


def test_master_key_from_environment_creates_no_file(data_dir: Path, master_key: str) -> None:
    kek = keystore.current_kek()
    assert kek.key == base64.b64decode(master_key)
    assert kek.source == "environment"
    assert keystore.current_kek().id == kek.id  # deterministic id
    assert keystore.get_kek(kek.id).key == kek.key
    assert not (data_dir / "keys").exists()
    with pytest.raises(KeyStoreError):
        keystore.create_kek()
    assert check_keystore() == []


def test_bad_master_key_is_refused_without_echoing_it(settings: Settings) -> None:
    settings.CHANCERY_MASTER_KEY = "not-a-real-key-value"
    with pytest.raises(KeyStoreError, match="CHANCERY_MASTER_KEY") as info:
        keystore.current_kek()
    assert "not-a-real-key-value" not in str(info.value)
    assert len(check_keystore()) == 1


def test_retire_moves_file_and_keeps_it_readable(data_dir: Path) -> None:
    old = keystore.current_kek()
    new = keystore.create_kek()
    with pytest.raises(KeyStoreError):
        keystore.retire_kek(old.id)  # active
    keystore.activate_kek(new.id)
    keystore.retire_kek(old.id)
    retired = data_dir / "keys" / "retired"
    assert mode(retired) == 0o700
    assert (retired / f"kek-{old.id}.key").exists()
    assert keystore.file_kek_ids() == [new.id]
    assert keystore.get_kek(old.id).key == old.key


def test_concurrent_first_use_keeps_one_kek(data_dir: Path) -> None:
    winner = keystore.current_kek()
    # A second process that found no pointer and raced to create one loses the link():
    loser_view = keystore._bootstrap()
    assert loser_view.id == winner.id
    assert keystore.file_kek_ids() == [winner.id]
