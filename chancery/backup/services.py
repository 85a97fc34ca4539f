"""Taking a consistent online backup, restoring it, and proving the restored copy.

Consistency: every table is read inside one snapshot while the application keeps serving —
on SQLite a private copy made with `VACUUM INTO` (SQLite's own online copy, a single read
transaction of the live database), on PostgreSQL one REPEATABLE READ, READ ONLY transaction
on a connection of its own. Files are copied after the snapshot: attachment files are written
before the rows that name them are committed and never changed afterwards, so every file the
snapshot names is there (files added meanwhile are copied too and are harmless extras).

An interrupted backup leaves at most a hidden `.NAME.partial-…` directory without a manifest:
the destination only appears, by one rename, once everything in it is written and fsynced.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, connections, models, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.utils import load_backend
from django.utils import timezone

from chancery.audit.services import (
    checkpoint_document,
    create_checkpoint,
    read_checkpoint_document,
    record_event,
    verify_chain,
)
from chancery.backup import keyfile
from chancery.backup.archive import (
    FILES_DIR,
    FORMAT,
    MANIFEST,
    SIGNER,
    TABLES_DIR,
    BackupError,
    backed_up_models,
    check_files,
    check_manifest_signature,
    columns,
    data_files,
    decode_value,
    encode_value,
    is_sqlite_file,
    manifest_message,
    read_manifest,
    sha256_file,
)
from chancery.crypto._fsutil import atomic_write, fsync_dir

SNAPSHOT_ALIAS = "chancery_backup_snapshot"
BATCH = 1000
# Tables that `migrate` fills by itself: a freshly migrated database still counts as empty.
FILLED_BY_MIGRATE = frozenset({"contenttypes.contenttype", "auth.permission"})

ProgressFactory = Callable[[int, str], Any]  # (total, label) -> object with update(done, text) and close()


class _NoProgress:
    def update(self, done: int, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _no_progress(total: int, label: str) -> _NoProgress:
    return _NoProgress()


# --- backup -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupReport:
    destination: Path
    rows: int
    tables: int
    files: int
    bytes: int
    checkpoint_sequence: int
    key_file: Path | None


@contextlib.contextmanager
def _snapshot(work_dir: Path) -> Iterator[str]:
    """A connection alias reading one consistent state of the database while it keeps serving."""
    base = connection.settings_dict
    snapshot_file: Path | None = None
    if connection.vendor == "sqlite":
        snapshot_file = work_dir / ".snapshot.sqlite3"
        source = sqlite3.connect(str(base["NAME"]), timeout=30)
        try:
            source.execute("VACUUM INTO ?", (str(snapshot_file),))
        finally:
            source.close()
        settings_dict = {**base, "NAME": str(snapshot_file), "OPTIONS": {"timeout": 30}}
    else:
        settings_dict = {**base, "CONN_MAX_AGE": 0}
    # A connection of its own, registered for this thread only (not in settings: nothing else may use it).
    connections[SNAPSHOT_ALIAS] = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, SNAPSHOT_ALIAS)
    try:
        with transaction.atomic(using=SNAPSHOT_ALIAS):
            if connections[SNAPSHOT_ALIAS].vendor == "postgresql":
                with connections[SNAPSHOT_ALIAS].cursor() as cursor:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield SNAPSHOT_ALIAS
    finally:
        connections[SNAPSHOT_ALIAS].close()
        del connections[SNAPSHOT_ALIAS]
        if snapshot_file is not None:
            snapshot_file.unlink(missing_ok=True)


def _export_table(model: type[models.Model], alias: str, path: Path, on_rows: Callable[[int], None]) -> int:
    names = [column.attname for column in columns(model)]
    rows = model._base_manager.using(alias).order_by("pk").values_list(*names)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"model": model._meta.label_lower, "columns": names}) + "\n")
        for row in rows.iterator(chunk_size=2000):
            out.write(json.dumps([encode_value(v) for v in row], ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
            if count % 500 == 0:
                on_rows(500)
        out.flush()
        os.fsync(out.fileno())
    on_rows(count % 500)
    return count


def _copy_file(source: Path, target: Path) -> None:
    """Copy one data file; a SQLite database (e.g. an index) through SQLite's online backup API."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite_file(source):
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
    else:
        shutil.copyfile(source, target)
    with target.open("rb") as handle:
        os.fsync(handle.fileno())


def _applied_migrations(alias: str) -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connections[alias]).applied_migrations())


def _code_migrations() -> list[str]:
    return sorted(f"{app}.{name}" for app, name in MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def take_backup(
    *,
    destination: Path,
    key_file: Path | None = None,
    passphrase: str | None = None,
    actor: Any = None,
    progress: ProgressFactory = _no_progress,
) -> BackupReport:
    """Write a complete, signed backup to `destination` (which must not exist yet)."""
    destination = destination.absolute()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise BackupError(f"{destination} already exists and is not empty: choose a new destination")
    if not destination.parent.is_dir():
        raise BackupError(f"{destination.parent} is not a directory")
    if key_file is not None:
        key_file = key_file.absolute()
        if destination in key_file.parents or key_file == destination:
            raise BackupError("the key file must not be written inside the backup: keep it apart")
        if passphrase is None:
            raise BackupError("a key file needs a passphrase")
        keyfile.check_passphrase(passphrase)
    data_dir = Path(settings.CHANCERY_DATA_DIR).resolve()
    work = destination.parent / f".{destination.name}.partial-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    try:
        record_event(action="backup.started", actor=actor, details={"destination": str(destination)})
        checkpoint = create_checkpoint(reason="backup")
        from chancery.crypto.services import signing_key_for

        signing_key_for(owner=SIGNER)  # in the snapshot: the restored copy holds the key that signs it
        report = _write_backup(work, data_dir, also_skip={destination, work}, checkpoint=checkpoint,
                               key_file=key_file, passphrase=passphrase, progress=progress)
        if destination.exists():
            destination.rmdir()
        os.rename(work, destination)
        fsync_dir(destination.parent)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    record_event(
        action="backup.completed", actor=actor,
        details={"destination": str(destination), "rows": report["rows"], "files": report["files"],
                 "manifest_sha256": sha256_file(destination / MANIFEST), "key_file": bool(key_file)},
    )
    return BackupReport(destination=destination, rows=report["rows"], tables=report["tables"],
                        files=report["files"], bytes=report["bytes"], checkpoint_sequence=checkpoint.sequence,
                        key_file=key_file)


def _write_backup(
    work: Path, data_dir: Path, *, also_skip: set[Path], checkpoint: Any, key_file: Path | None,
    passphrase: str | None, progress: ProgressFactory,
) -> dict[str, Any]:
    from chancery.crypto.models import DataKey
    from chancery.crypto.services import sign_for, signing_key_for

    (work / TABLES_DIR).mkdir()
    tables: dict[str, dict[str, Any]] = {}
    entries: list[dict[str, Any]] = []
    with _snapshot(work) as alias:
        model_list = backed_up_models()
        total = sum(model._base_manager.using(alias).count() for model in model_list)
        bar = progress(total, "rows")
        done = 0

        def advance(count: int) -> None:
            nonlocal done
            done += count
            bar.update(done, "rows")

        for model in model_list:
            relative = f"{TABLES_DIR}/{model._meta.label_lower}.jsonl"
            rows = _export_table(model, alias, work / relative, advance)
            tables[model._meta.label_lower] = {"table": model._meta.db_table, "rows": rows, "file": relative}
        bar.close()
        migrations = _applied_migrations(alias)
        kek_ids = set(DataKey.objects.using(alias).values_list("kek_id", flat=True).distinct())
    files = list(data_files(data_dir, also_skip=also_skip))
    bar = progress(len(files), "files")
    for index, path in enumerate(files, start=1):
        relative = f"{FILES_DIR}/{path.relative_to(data_dir)}"
        _copy_file(path, work / relative)
        bar.update(index, "files")
    bar.close()
    for path in sorted(p for p in work.rglob("*") if p.is_file()):
        entries.append({"path": str(path.relative_to(work)), "size": path.stat().st_size, "sha256": sha256_file(path)})
    key_set = keyfile.held_keys(kek_ids)
    if key_file is not None and passphrase is not None:
        atomic_write(key_file, keyfile.seal(key_set, passphrase), mode=0o600)
    signer = signing_key_for(owner=SIGNER)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "created_at": timezone.now().isoformat(),
        "engine": connection.vendor,
        "migrations": migrations,
        "tables": tables,
        "files": entries,
        "kek_ids": sorted(key_set.keys),
        "current_kek_id": key_set.current,
        "audit_checkpoint": checkpoint_document(checkpoint),
        "signing_key_id": signer.pk,
        "public_key": bytes(signer.public_key).hex(),
    }
    _key_id, signature = sign_for(owner=SIGNER, message=manifest_message(manifest))
    manifest["signature"] = signature.hex()
    atomic_write(work / MANIFEST, (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode(), mode=0o600)
    for directory in sorted({p.parent for p in work.rglob("*")} | {work}, key=lambda p: -len(p.parts)):
        fsync_dir(directory)
    return {"rows": sum(t["rows"] for t in tables.values()), "tables": len(tables), "files": len(files),
            "bytes": sum(e["size"] for e in entries)}


# --- restore ----------------------------------------------------------------------------


@dataclass
class RestoreReport:
    rows: int = 0
    tables: int = 0
    files: int = 0
    verified: bool = False
    checks: list[str] = field(default_factory=list)


def _existing_tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


def _target_problems(data_dir: Path) -> list[str]:
    """Why the target is not empty (an empty list when it is)."""
    problems = []
    existing = _existing_tables()
    for model in backed_up_models():
        label = model._meta.label_lower
        if model._meta.db_table in existing and label not in FILLED_BY_MIGRATE:
            count = model._base_manager.count()
            if count:
                problems.append(f"table {model._meta.db_table} holds {count} rows")
    for path in data_files(data_dir):
        problems.append(f"the data dir holds {path.relative_to(data_dir)}")
        break
    return problems


def _check_keys_available(manifest: dict[str, Any]) -> None:
    from chancery.crypto import keystore

    for kek_id in manifest.get("kek_ids", []):
        try:
            keystore.get_kek(kek_id)
        except keystore.KeyStoreError as exc:
            raise BackupError(
                f"the backup's data keys are wrapped by key-encryption key {kek_id}, which is not held here: "
                "give the key file written with the backup (--keys FILE)"
            ) from exc


def _backup_row(source: Path, manifest: dict[str, Any], label: str, pk: int) -> dict[str, Any]:
    """One row of a table in the backup, by primary key (read before anything is restored)."""
    entry = manifest["tables"].get(label)
    if entry is None:
        raise BackupError(f"the backup holds no table {label}")
    with (source / entry["file"]).open(encoding="utf-8") as stream:
        names = json.loads(stream.readline())["columns"]
        for line in stream:
            values = dict(zip(names, json.loads(line), strict=True))
            if values.get("id") == pk:
                return values
    raise BackupError(f"the backup holds no row {pk} of {label}")


def _check_signer(source: Path, manifest: dict[str, Any]) -> None:
    """The manifest's key is the backup signing key *inside* the backup, and its private half
    opens with the key-encryption key: only a holder of that KEK could have signed. A backup
    rebuilt and re-signed by anyone else is refused before anything is written."""
    import base64

    from chancery.crypto import keystore
    from chancery.crypto.envelope import decrypt, unwrap_key
    from chancery.crypto.models import SigningKey
    from chancery.crypto.services import _signing_aad
    from chancery.crypto.signing import public_key_of

    signer = _backup_row(source, manifest, "crypto.signingkey", int(manifest["signing_key_id"]))
    public = base64.b64decode(signer["public_key"])
    if signer["owner"] != SIGNER or public.hex() != manifest["public_key"]:
        raise BackupError("the manifest is not signed by the backup signing key of the data it describes")
    data_key = _backup_row(source, manifest, "crypto.datakey", int(signer["data_key_id"]))
    try:
        key = unwrap_key(base64.b64decode(data_key["wrapped_key"]), keystore.get_kek(data_key["kek_id"]))
        private = decrypt(base64.b64decode(signer["encrypted_private_key"]), key,
                          _signing_aad(SigningKey(pk=signer["id"], public_key=public)))
    except Exception as exc:
        raise BackupError(f"the backup signing key does not open with the key-encryption key: {exc}") from exc
    if public_key_of(private) != public:
        raise BackupError("the backup signing key's halves do not match")


def _load_table(model: type[models.Model], path: Path, advance: Callable[[int], None]) -> int:
    fields = {column.attname: column for column in columns(model)}
    with path.open(encoding="utf-8") as stream:
        header = json.loads(stream.readline())
        names = header["columns"]
        unknown = [name for name in names if name not in fields]
        if unknown or set(names) != set(fields):
            raise BackupError(f"table {model._meta.label_lower} in the backup does not have this version's columns")
        table = connection.ops.quote_name(model._meta.db_table)
        quoted = ", ".join(connection.ops.quote_name(str(fields[name].column)) for name in names)
        sql = f"INSERT INTO {table} ({quoted}) VALUES ({', '.join(['%s'] * len(names))})"  # noqa: S608
        count = 0
        batch: list[list[Any]] = []
        with connection.cursor() as cursor:
            for line in stream:
                values = json.loads(line)
                batch.append([
                    fields[name].get_db_prep_save(decode_value(fields[name], value), connection)
                    for name, value in zip(names, values, strict=True)
                ])
                if len(batch) >= BATCH:
                    cursor.executemany(sql, batch)
                    count += len(batch)
                    advance(len(batch))
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
                count += len(batch)
                advance(len(batch))
    return count


def _load_tables(source: Path, manifest: dict[str, Any], progress: ProgressFactory) -> int:
    model_list = backed_up_models()
    by_label = {model._meta.label_lower: model for model in model_list}
    missing = sorted(set(manifest["tables"]) - set(by_label))
    if missing:
        raise BackupError(f"the backup holds table {missing[0]}, which this version of Chancery does not have")
    bar = progress(sum(t["rows"] for t in manifest["tables"].values()), "rows")
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        bar.update(done, "rows")

    with transaction.atomic():
        with connection.cursor() as cursor:
            # Everything goes, then everything comes back with its own ids (foreign keys are
            # checked at commit, so the order of the tables does not matter).
            for model in reversed(model_list):
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
        for label, entry in manifest["tables"].items():
            _load_table(by_label[label], source / entry["file"], advance)
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), model_list):
                cursor.execute(statement)
    bar.close()
    return done


def _restore_files(source: Path, manifest: dict[str, Any], data_dir: Path, *, force: bool,
                   progress: ProgressFactory) -> int:
    if force:
        for path in list(data_files(data_dir)):
            path.unlink()
    entries = [e for e in manifest["files"] if e["path"].startswith(f"{FILES_DIR}/")]
    bar = progress(len(entries), "files")
    for index, entry in enumerate(entries, start=1):
        target = data_dir / entry["path"][len(FILES_DIR) + 1:]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / entry["path"], target)
        bar.update(index, "files")
    bar.close()
    return len(entries)


def restore_backup(
    *,
    source: Path,
    key_file: Path | None = None,
    passphrase: str | None = None,
    force: bool = False,
    verify: bool = False,
    progress: ProgressFactory = _no_progress,
) -> RestoreReport:
    """Restore `source` into this data dir and database (both empty unless `force`)."""
    manifest = read_manifest(source)
    check_manifest_signature(manifest)
    check_files(source, manifest, progress(len(manifest["files"]), "files checked"))
    code_migrations = _code_migrations()
    if manifest["migrations"] != code_migrations:
        differing = sorted(set(manifest["migrations"]) ^ set(code_migrations))
        raise BackupError(
            f"the backup was taken by another version of Chancery (migration {differing[0]} differs): "
            "restore it with the version that took it, then upgrade"
        )
    data_dir = Path(settings.CHANCERY_DATA_DIR).resolve()
    if not force:
        problems = _target_problems(data_dir)
        if problems:
            raise BackupError(f"the target is not empty ({problems[0]}): restore into an empty database and "
                              "data dir, or give --force to replace what is there")
    if key_file is not None:
        try:
            sealed = key_file.read_bytes()
        except OSError as exc:
            raise BackupError(f"cannot read {key_file}: {exc.strerror}") from exc
        keyfile.install(keyfile.unseal(sealed, passphrase or ""))
    _check_keys_available(manifest)
    _check_signer(source, manifest)
    call_command("migrate", interactive=False, verbosity=0)
    report = RestoreReport(tables=len(manifest["tables"]))
    report.rows = _load_tables(source, manifest, progress)
    report.files = _restore_files(source, manifest, data_dir, force=force, progress=progress)
    if verify:
        report.checks = verify_restored(manifest, data_dir, progress=progress)
        report.verified = True
    record_event(action="backup.restored", details={
        "backup_created_at": manifest["created_at"], "engine": manifest["engine"], "rows": report.rows,
        "files": report.files, "verified": report.verified,
    })
    return report


def verify_restored(manifest: dict[str, Any], data_dir: Path, *, progress: ProgressFactory = _no_progress) -> list[str]:
    """Prove the restored copy; raises BackupError naming the first difference."""
    from chancery.correspondence.models import RELEASED_STATUSES, Dispatch
    from chancery.correspondence.signatures import verify_dispatch
    from chancery.crypto.models import SigningKey
    from chancery.crypto.services import _private_key

    checks = []
    by_label = {model._meta.label_lower: model for model in backed_up_models()}
    for label, entry in manifest["tables"].items():
        count = by_label[label]._base_manager.count()
        if count != entry["rows"]:
            raise BackupError(f"table {entry['table']}: {count} rows restored, the backup holds {entry['rows']}")
    checks.append(f"{len(manifest['tables'])} tables: row counts equal the backup's")
    entries = [e for e in manifest["files"] if e["path"].startswith(f"{FILES_DIR}/")]
    for entry in entries:
        path = data_dir / entry["path"][len(FILES_DIR) + 1:]
        if not path.is_file() or sha256_file(path) != entry["sha256"]:
            raise BackupError(f"{path} does not match its hash in the backup")
    checks.append(f"{len(entries)} files: hashes equal the backup's")
    signer = SigningKey.objects.filter(pk=manifest["signing_key_id"]).first()
    if signer is None or bytes(signer.public_key).hex() != manifest["public_key"]:
        raise BackupError("the key that signed the manifest is not the backup signing key of the restored data")
    try:
        _private_key(signer)  # its private half opens under the restored KEKs: the signer held them
    except Exception as exc:
        raise BackupError(f"the backup signing key cannot be opened with the restored keys: {exc}") from exc
    checks.append("manifest signed by the restored backup key (opened with the restored key-encryption key)")
    sent = Dispatch.objects.unrestricted("backup verification").filter(status__in=RELEASED_STATUSES).order_by("pk")
    total = sent.count()
    bar = progress(total, "signatures")
    for index, dispatch in enumerate(sent.iterator(chunk_size=500), start=1):
        verdict = verify_dispatch(dispatch)
        if not verdict.valid:
            raise BackupError(f"dispatch {verdict.line()}")
        bar.update(index, "signatures")
    bar.close()
    checks.append(f"{total} sent dispatches: signatures valid")
    chain = verify_chain()
    if not chain.valid:
        raise BackupError(f"audit log: {chain.message}")
    since = read_checkpoint_document(manifest["audit_checkpoint"])
    anchored = verify_chain(since=since)
    if not anchored.valid:
        raise BackupError(f"audit log: {anchored.message}")
    checks.append(f"audit log: {chain.events} events, chain intact up to and past the backup's checkpoint "
                  f"(event {since.sequence})")
    return checks
