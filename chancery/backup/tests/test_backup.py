"""Backup and restore, end to end: the real commands, real SQLite and PostgreSQL targets.

The source is the test database (SQLite or PostgreSQL, whichever the run uses) holding the demo
organisation and sent dispatches with attachments, clear and encrypted. Restores run in
subprocesses against their own data dir and database, exactly as an operator would run them.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from chancery.backup.archive import MANIFEST, read_manifest
from chancery.correspondence.tests.domain_helpers import PDF, sent

# Run once, in the SQLite part of `make test` (which is given CHANCERY_TEST_POSTGRES_URL): the
# restores go onto both engines there, and the round trip SQLite -> PostgreSQL -> SQLite backs up a
# PostgreSQL database on its way; a second run from PostgreSQL would repeat the same paths.
pytestmark = pytest.mark.engine_independent

PASSPHRASE = "a long enough passphrase"
ROOT = Path(__file__).resolve().parents[3]


def postgres_server_url() -> str | None:
    """The PostgreSQL server of this run (DATABASE_URL), or CHANCERY_TEST_POSTGRES_URL for a SQLite run."""
    for name in ("DATABASE_URL", "CHANCERY_TEST_POSTGRES_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return None


@pytest.fixture
def postgres_database() -> Iterator[Any]:
    """A factory of empty PostgreSQL databases beside the test one (dropped afterwards)."""
    import psycopg

    base = postgres_server_url()
    if base is None:
        pytest.skip("no PostgreSQL server for the cross-engine restore: set CHANCERY_TEST_POSTGRES_URL")
    server, _slash, name = base.rpartition("/")
    made: list[str] = []

    def make() -> str:
        database = f"{name.split('?')[0]}_restore_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        made.append(database)
        return f"{server}/{database}"

    yield make
    with psycopg.connect(base, autocommit=True) as conn:
        for database in made:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def chancery(*args: str, data_dir: Path, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "CHANCERY_MASTER_KEY"}}
    env["CHANCERY_DATA_DIR"] = str(data_dir)
    env["CHANCERY_KEY_PASSPHRASE"] = PASSPHRASE
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "chancery.cli", *args, "--no-progress"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture
def correspondence(fresh_ministry: Any) -> Any:
    """Sent dispatches, one in clear and one encrypted (restricted), each with an attachment."""
    sent(fresh_ministry, subject="Semaine culturelle", attachments=[("programme.pdf", PDF)])
    sent(fresh_ministry, subject="Entretien avec le ministre", classification=1,
         attachments=[("compte-rendu.pdf", PDF + b"%confidential")])
    return fresh_ministry


@pytest.fixture
def backup(correspondence: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    destination, keys = tmp_path / "backup", tmp_path / "keys.json"
    with monkeypatch.context() as patch:
        patch.setenv("CHANCERY_KEY_PASSPHRASE", PASSPHRASE)
        call_command("backup", str(destination), "--keys", str(keys), "--no-progress", stdout=StringIO())
    return destination, keys


def restore(source: Path, keys: Path, data_dir: Path, database_url: str | None = None) -> str:
    result = chancery("restore", str(source), "--keys", str(keys), "--verify", data_dir=data_dir,
                      database_url=database_url)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _verified(output: str) -> None:
    assert "row counts equal the backup's" in output
    assert "hashes equal the backup's" in output
    assert "sent dispatches: signatures valid" in output and " 0 sent dispatches" not in output
    assert "chain intact" in output


def test_a_backup_restores_onto_sqlite_and_verifies(backup, tmp_path):
    source, keys = backup
    _verified(restore(source, keys, tmp_path / "restored"))
    manifest = read_manifest(source)
    assert manifest["tables"]["correspondence.attachment"]["rows"] >= 2
    assert any(entry["path"].startswith("data/attachments/") for entry in manifest["files"])


def _tables(backup_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in (backup_dir / "db").glob("*.jsonl")}


def test_sqlite_to_postgresql_and_back_reproduces_every_record(backup, tmp_path, postgres_database):
    """A backup restored on the other engine, backed up there and restored again: same rows, same values.

    Its first step is the restore of this run's backup onto the other engine, verified: onto
    PostgreSQL in the SQLite part of `make test` (the only part that runs this module), so no
    separate test repeats that restore (a migrated database and a verification, 35 s)."""
    first, keys = backup
    engines = [("postgresql", postgres_database()), ("sqlite", None)]
    if not str(settings.DATABASES["default"]["ENGINE"]).endswith("sqlite3"):
        engines.reverse()  # this run's source is PostgreSQL: go through SQLite and back
    (_engine, middle_url), (_other, last_url) = engines
    middle_dir = tmp_path / "middle"
    _verified(restore(first, keys, middle_dir, middle_url))
    second, second_keys = tmp_path / "backup2", tmp_path / "keys2.json"
    result = chancery("backup", str(second), "--keys", str(second_keys), data_dir=middle_dir, database_url=middle_url)
    assert result.returncode == 0, result.stderr
    _verified(restore(second, second_keys, tmp_path / "last", last_url))
    before, after = _tables(first), _tables(second)
    assert before.keys() == after.keys()
    for name in before:
        if name.startswith(("audit.", "crypto.")):
            # The log and the keys only grew (the restore and the second backup are recorded).
            assert after[name].startswith(before[name].split("\n", 1)[0]), name
            continue
        assert after[name] == before[name], f"{name} changed on the way through the other engine"
    assert read_manifest(second)["engine"] != read_manifest(first)["engine"]


def test_the_key_encryption_keys_are_never_in_the_backup(backup, data_dir):
    source, keys = backup
    kek_files = list((data_dir / "keys").glob("kek-*.key"))
    assert kek_files
    contents = b"".join(path.read_bytes() for path in source.rglob("*") if path.is_file())
    for kek_file in kek_files:
        key = base64.b64decode(kek_file.read_text())
        assert key not in contents and kek_file.read_text().strip().encode() not in contents
    assert not any("keys/" in str(path.relative_to(source)) for path in source.rglob("*"))
    # …and the key file does not hold them in clear either.
    assert all(base64.b64decode(f.read_text()) not in keys.read_bytes() for f in kek_files)


def test_without_the_key_file_the_restore_refuses_before_writing(backup, tmp_path):
    source, _keys = backup
    result = chancery("restore", str(source), data_dir=tmp_path / "restored")
    assert result.returncode != 0 and "key-encryption key" in result.stderr and "--keys" in result.stderr


def test_a_wrong_passphrase_is_refused(backup, tmp_path):
    source, keys = backup
    (tmp_path / "pass").write_text("not the passphrase at all\n")
    result = chancery("restore", str(source), "--keys", str(keys), "--passphrase-file", str(tmp_path / "pass"),
                      data_dir=tmp_path / "restored")
    assert result.returncode != 0 and "wrong passphrase" in result.stderr


def test_a_non_empty_target_is_refused(backup, monkeypatch):
    source, keys = backup
    monkeypatch.setenv("CHANCERY_KEY_PASSPHRASE", PASSPHRASE)
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", str(source), "--keys", str(keys), "--no-progress", stdout=StringIO())


@pytest.mark.parametrize("tamper", ["file", "table", "manifest", "extra", "missing"])
def test_a_tampered_backup_is_refused(backup, tmp_path, tamper):
    source, keys = backup
    attachment = next((source / "data" / "attachments").rglob("*"), None)
    while attachment is not None and attachment.is_dir():
        attachment = next(attachment.iterdir())
    if tamper == "file":
        assert attachment is not None
        attachment.write_bytes(attachment.read_bytes()[:-1] + b"X")
    elif tamper == "table":
        path = source / "db" / "correspondence.dispatch.jsonl"
        path.write_text(path.read_text().replace("Semaine culturelle", "Semaine culturelle!", 1))
    elif tamper == "manifest":
        path = source / MANIFEST
        path.write_text(path.read_text().replace('"rows": ', '"rows": 1', 1))
    elif tamper == "extra":
        (source / "data" / "planted.txt").write_text("not from the backup")
    else:
        assert attachment is not None
        attachment.unlink()
    result = chancery("restore", str(source), "--keys", str(keys), data_dir=tmp_path / "restored")
    assert result.returncode != 0
    expected = {"file": "does not match its hash", "table": "does not match its hash",
                "manifest": "signature does not match", "extra": "does not list", "missing": "lacks"}[tamper]
    assert expected in result.stderr


def test_a_backup_re_signed_by_another_key_is_refused(backup, tmp_path):
    """Whoever edits a backup and signs the manifest again with a key of their own is caught."""
    import json

    from chancery.backup.archive import manifest_message, sha256_file
    from chancery.crypto.signing import generate_signing_key, sign

    source, keys = backup
    path = source / "db" / "correspondence.dispatch.jsonl"
    path.write_text(path.read_text().replace("Semaine culturelle", "Semaine culturelle!", 1))
    manifest = json.loads((source / MANIFEST).read_text())
    for entry in manifest["files"]:
        if entry["path"] == "db/correspondence.dispatch.jsonl":
            entry["sha256"], entry["size"] = sha256_file(path), path.stat().st_size
    private, public = generate_signing_key()
    manifest["public_key"] = public.hex()
    manifest["signature"] = sign(private, manifest_message(manifest)).hex()
    (source / MANIFEST).write_text(json.dumps(manifest))
    result = chancery("restore", str(source), "--keys", str(keys), data_dir=tmp_path / "restored")
    assert result.returncode != 0 and "not signed by the backup signing key" in result.stderr
    assert not (tmp_path / "restored" / "attachments").exists()  # refused before anything was written


def test_an_interrupted_backup_leaves_nothing_that_looks_complete(correspondence, tmp_path, monkeypatch):
    from chancery.backup import services

    calls = 0
    real_copy = services._copy_file

    def interrupted(source: Path, target: Path) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt  # Ctrl-C, or the machine going down, halfway through the files
        real_copy(source, target)

    monkeypatch.setattr(services, "_copy_file", interrupted)
    destination = tmp_path / "backup"
    with pytest.raises(KeyboardInterrupt):
        call_command("backup", str(destination), "--no-progress", stdout=StringIO())
    assert not destination.exists()
    assert list(tmp_path.glob(".backup.partial-*")) == []


def test_a_half_written_backup_directory_is_refused(backup, tmp_path):
    """What a SIGKILL leaves (the hidden .partial directory, no manifest) is never taken for a backup."""
    source, keys = backup
    (source / MANIFEST).unlink()
    result = chancery("restore", str(source), "--keys", str(keys), data_dir=tmp_path / "restored")
    assert result.returncode != 0 and "did not finish" in result.stderr


def test_backup_and_restore_are_audited(backup):
    from chancery.audit.models import AuditCheckpoint, AuditEvent

    actions = list(AuditEvent.objects.unrestricted("test").order_by("sequence").values_list("action", flat=True))
    assert actions[-2:] == ["backup.started", "backup.completed"]
    checkpoint = AuditCheckpoint.objects.filter(reason="backup").get()
    started = AuditEvent.objects.unrestricted("test").get(action="backup.started")
    assert checkpoint.sequence == started.sequence
    assert read_manifest(backup[0])["audit_checkpoint"]["sequence"] == checkpoint.sequence
