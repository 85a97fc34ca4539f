"""The sweep of files that interrupted writes left in the attachment store (run by `chancery serve`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from chancery.correspondence import storage
from chancery.correspondence.models import Attachment
from chancery.correspondence.tests.domain_helpers import PDF, draft

HOUR = 3600.0


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _orphan(dispatch_id: int, *, age: float) -> Path:
    """A complete file no attachment names (a crash between the file's write and the row's commit)."""
    path = storage.root() / storage.new_name(dispatch_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"left by a crash")
    _age(path, age)
    return path


@pytest.mark.django_db
def test_sweep_removes_old_orphans_and_temporary_files_and_keeps_named_and_young_files(ministry: Any) -> None:
    dispatch = draft(ministry, attachments=[("rapport.pdf", PDF)])
    kept = storage.root() / Attachment.objects.unrestricted("test").get(dispatch=dispatch).storage_name
    _age(kept, 2 * HOUR)
    old = _orphan(dispatch.pk, age=2 * HOUR)
    young = _orphan(dispatch.pk, age=60)
    temporary = old.with_name(f".{old.name}.abc.tmp")
    temporary.write_bytes(b"half")
    _age(temporary, 2 * HOUR)

    assert storage.sweep(older_than_seconds=600) == 2

    assert kept.exists() and young.exists()
    assert not old.exists() and not temporary.exists()


@pytest.mark.django_db
def test_the_next_sweep_reopens_only_directories_changed_since_and_those_holding_young_files(ministry: Any) -> None:
    first = draft(ministry)
    second = draft(ministry)
    young = _orphan(first.pk, age=60)  # too young for this sweep: the next one must look again
    assert storage.sweep(older_than_seconds=600) == 0
    assert young.exists()

    # The young file has aged; its directory was changed after the last sweep's horizon.
    _age(young, 2 * HOUR)
    # An orphan in a directory left untouched since before the last sweep (the directory's time
    # set back by hand, as no write could do): the incremental sweep does not open it ...
    stale = _orphan(second.pk, age=2 * HOUR)
    _age(stale.parent, 2 * HOUR)

    assert storage.sweep(older_than_seconds=600) == 1
    assert not young.exists() and stale.exists()

    # ... and a sweep without the record of the last one opens every directory.
    (storage.root() / storage.SWEPT_MARKER).unlink()
    assert storage.sweep(older_than_seconds=600) == 1
    assert not stale.exists()


@pytest.mark.django_db
def test_a_file_written_into_an_old_directory_moves_its_time_forward(ministry: Any) -> None:
    dispatch = draft(ministry)
    folder = storage.root() / str(dispatch.pk)
    folder.mkdir(parents=True, exist_ok=True)
    _age(folder, 2 * HOUR)
    storage.sweep(older_than_seconds=600)

    orphan = _orphan(dispatch.pk, age=2 * HOUR)  # written after the sweep (its own time set back)

    assert folder.stat().st_mtime > time.time() - 600
    (storage.root() / storage.SWEPT_MARKER).write_text(repr(time.time() - 600), encoding="ascii")
    assert storage.sweep(older_than_seconds=600) == 1
    assert not orphan.exists()
