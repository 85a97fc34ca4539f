"""Attachment file names of protected dispatches: encrypted at rest, clear for readers
(download, dispatch page, API), readable after key rotation, clear again after a
declassification and encrypted again after an upgrade; signatures keep verifying."""

from __future__ import annotations

import importlib
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import call_command
from django.urls import reverse

from chancery.accounts.services import issue_api_token
from chancery.correspondence import services
from chancery.correspondence.models import Attachment, Dispatch
from chancery.correspondence.signatures import verify_dispatch
from chancery.correspondence.tests.domain_helpers import draft, sent
from chancery.crypto.exceptions import DecryptionError

pytestmark = pytest.mark.django_db

NAME = "Rapport-Okapimontagne.txt"


def _row(dispatch: Dispatch, position: int = 1) -> Attachment:
    """A fresh row (no cached dispatch or clear name)."""
    return Attachment.objects.get(dispatch_id=dispatch.pk, position=position)


def _protected(ministry: Any, **kwargs: Any) -> Dispatch:
    return sent(
        ministry,
        author="hom.dakar",
        classification=1,
        subject="Visite du ministre",
        attachments=[(NAME, b"annexe"), ("second.txt", b"deux")],
        routings=[("DAB/1", "action")],
        **kwargs,
    )


def _assert_encrypted(dispatch: Dispatch) -> None:
    for row in Attachment.objects.filter(dispatch_id=dispatch.pk):
        assert row.filename_clear == "" and row.filename_ciphertext is not None
        assert b"Okapimontagne" not in bytes(row.filename_ciphertext)


def test_readers_see_the_clear_name(ministry: Any, client_for: Any) -> None:
    d = _protected(ministry)
    _assert_encrypted(d)
    assert _row(d).filename == NAME and _row(d, 2).filename == "second.txt"

    client = client_for("desk.dab1")
    page = client.get(reverse("correspondence:detail", args=[d.pk]))
    assert page.status_code == 200 and NAME in page.content.decode()
    download = client.get(reverse("correspondence:attachment", args=[d.pk, 1]))
    assert download.status_code == 200 and NAME in download["Content-Disposition"]

    from django.test import Client

    api = Client(HTTP_AUTHORIZATION=f"Bearer {issue_api_token(user=ministry.users['desk.dab1'])}")
    detail = api.get(f"/api/v1/dispatches/{d.pk}").json()
    assert [(a["n"], a["filename"]) for a in detail["attachments"]] == [(1, NAME), (2, "second.txt")]
    api_download = api.get(f"/api/v1/dispatches/{d.pk}/attachments/1")
    assert api_download.status_code == 200 and NAME in api_download["Content-Disposition"]
    # not a reader: nothing
    assert client_for("hom.lima").get(reverse("correspondence:attachment", args=[d.pk, 1])).status_code == 404


def test_rotate_keys_keeps_the_name_readable(ministry: Any) -> None:
    d = _protected(ministry)
    call_command("rotate_keys", stdout=StringIO())
    assert _row(d).filename == NAME
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid


def test_declassification_clears_and_upgrade_encrypts_the_name(ministry: Any) -> None:
    security = ministry.users["security"]
    d = _protected(ministry)
    services.grant_access(actor=ministry.users["hom.dakar"], dispatch=d, user=security, reason="marking review")
    services.change_marking(actor=security, dispatch=d, classification=0, reason="Declassified")
    row = _row(d)
    assert row.filename_clear == NAME and row.filename_ciphertext is None and row.filename == NAME
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid

    services.change_marking(actor=security, dispatch=d, classification=2, reason="Sensitive after all")
    _assert_encrypted(d)
    assert [a.filename for a in Attachment.objects.filter(dispatch_id=d.pk).order_by("position")] == [
        NAME,
        "second.txt",
    ]
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid
    # a re-marking between protected levels re-binds the name to the new marking
    services.change_marking(actor=security, dispatch=d, classification=1, reason="Back to restricted")
    _assert_encrypted(d)
    assert _row(d).filename == NAME
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid


def test_draft_marking_change_and_renumbering(ministry: Any) -> None:
    user = ministry.users["counsellor.dakar"]
    d = draft(ministry, attachments=[("a.txt", b"a"), (NAME, b"b"), ("c.txt", b"c")])
    assert _row(d, 2).filename_clear == NAME
    d = services.update_draft(actor=user, dispatch=d, expected_version=d.version, classification=1)
    _assert_encrypted(d)
    # removing PJ 1 moves the others up: their names (bound to the position) stay readable
    services.remove_attachment(actor=user, dispatch=d, position=1)
    assert [a.filename for a in Attachment.objects.filter(dispatch_id=d.pk).order_by("position")] == [NAME, "c.txt"]
    _assert_encrypted(d)
    d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    d = services.update_draft(
        actor=user, dispatch=d, expected_version=d.version, transmission="clear", classification=0
    )
    assert _row(d).filename_clear == NAME and _row(d).filename_ciphertext is None


def test_name_ciphertext_is_bound_to_its_attachment(ministry: Any) -> None:
    d = _protected(ministry)
    first, second = _row(d, 1), _row(d, 2)
    Attachment.objects.filter(pk=second.pk).update(filename_ciphertext=first.filename_ciphertext)
    with pytest.raises(DecryptionError):
        _ = _row(d, 2).filename
    result = verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk))
    assert not result.valid and "name was altered" in result.reason


def test_migration_encrypts_existing_clear_names(ministry: Any) -> None:
    d = _protected(ministry)
    clear = sent(ministry, attachments=[("clair.txt", b"x")])
    # the state before the migration: protected names in clear
    for row in Attachment.objects.filter(dispatch_id=d.pk):
        Attachment.objects.filter(pk=row.pk).update(filename_clear=row.filename, filename_ciphertext=None)
    migration = importlib.import_module("chancery.correspondence.migrations.0003_encrypted_attachment_filename")
    migration.encrypt_existing_names(apps, None)
    _assert_encrypted(d)
    assert [a.filename for a in Attachment.objects.filter(dispatch_id=d.pk).order_by("position")] == [
        NAME,
        "second.txt",
    ]
    assert _row(clear).filename_clear == "clair.txt" and _row(clear).filename_ciphertext is None
    assert verify_dispatch(Dispatch.objects.unrestricted("test").get(pk=d.pk)).valid
    migration.decrypt_names(apps, None)
    assert _row(d).filename_clear == NAME and _row(d).filename_ciphertext is None
