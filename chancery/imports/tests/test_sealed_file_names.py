"""A letter's original file name is sealed at rest (it often names what the letter is about):
the database holds no clear copy of it, the import's pages still show it, and the migration
seals names written by an older version."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.apps import apps
from django.db import connection

from chancery.imports import services
from chancery.imports.models import LetterImport

from .conftest import SAMPLES_DIR

pytestmark = pytest.mark.django_db

NAME = "visite-Zygomorphique-ministre.txt"


def test_preview_and_import_keep_the_file_name_sealed(importer: Any, ministry: Any) -> None:
    data = (SAMPLES_DIR / "en-plan-2024-nairobi.txt").read_bytes()
    preview = services.preview_letter(actor=importer, data=data, filename=NAME, registry_unit=ministry.units["SG/BO"])
    row = LetterImport.objects.unrestricted("test").get(pk=preview.letter_import.pk)  # type: ignore[union-attr]
    assert row.filename_clear == "" and row.filename_ciphertext and row.filename == NAME
    failed = services.record_failure(
        actor=importer, digest="0" * 64, filename=f"x/{NAME}", size=1, code="too_large", message="m", batch=None
    )
    assert LetterImport.objects.unrestricted("test").get(pk=failed.pk).filename == NAME
    with connection.cursor() as cursor:  # every column of every import row, as the engine stores it
        cursor.execute("SELECT * FROM imports_letterimport")
        raw = repr(cursor.fetchall()).lower()
    assert "zygomorphique" not in raw and row.content_hash in raw  # (the dump does hold the rows)


def test_migration_seals_names_written_in_clear(importer: Any) -> None:
    migration = import_module("chancery.imports.migrations.0003_sealed_letter_file_names")
    row = LetterImport.objects.create(content_hash="1" * 64, filename_clear=NAME, imported_by=importer)
    migration.seal_names(apps, None)
    row = LetterImport.objects.unrestricted("test").get(pk=row.pk)
    assert row.filename_clear == "" and row.filename_ciphertext and row.filename == NAME
