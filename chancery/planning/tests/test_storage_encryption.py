"""Encryption at rest of planning files: evidence of protected programmes, stashed workbooks."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from chancery.core.classification import Level
from chancery.crypto.exceptions import DecryptionError
from chancery.crypto.models import DataKey
from chancery.planning import services, spreadsheets, storage
from chancery.planning.demo import sample_programme
from chancery.planning.models import AchievementEvidence, EvidenceFile, Programme

YEAR = 2026
SECRET = b"TOP-SECRET-EVIDENCE: the minister's private itinerary, 12 May, 09:30. " * 20


def _programme(ministry: Any, mission: str, level: int) -> Programme:
    programme = sample_programme(
        mission=ministry.units[mission], year=YEAR, user=ministry.users[f"counsellor.{mission.lower()}"]
    )
    Programme.objects.unrestricted("test").filter(pk=programme.pk).update(classification=level)
    programme.refresh_from_db()
    return programme


@pytest.fixture
def dakar(ministry: Any) -> Programme:
    return _programme(ministry, "DAKAR", Level.RESTRICTED)


def _files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def _assert_no_plaintext(root: Path) -> None:
    files = _files_under(root)
    assert files
    for path in files:
        raw = path.read_bytes()
        assert SECRET[:40] not in raw and b"TOP-SECRET" not in raw, path


def _evidence(ministry: Any, programme: Programme) -> tuple[AchievementEvidence, EvidenceFile]:
    u = ministry.users
    achievement = services.create_achievement(
        user=u["counsellor.dakar"], programme=programme, kind="visit", date=date(YEAR, 3, 2), title="Visit"
    )
    evidence = services.add_achievement_evidence(
        user=u["counsellor.dakar"], achievement=achievement, filename="itinerary.txt", content=SECRET
    )
    stored = services.store_evidence_file(
        user=u["counsellor.dakar"], programme=programme, filename="stats.csv", content=SECRET
    )
    return evidence, stored


def test_protected_evidence_is_encrypted_on_disk(ministry: Any, dakar: Programme, data_dir: Path) -> None:
    evidence, stored = _evidence(ministry, dakar)
    for row in (evidence, stored):
        assert row.encrypted and row.storage_name.startswith(f"p{dakar.pk}/")
        assert row.storage_path.is_relative_to(data_dir / "evidence")
        assert row.read_bytes() == SECRET
    _assert_no_plaintext(data_dir / "evidence")
    dakar.refresh_from_db()
    assert dakar.data_key_id is not None  # one data key for the programme, created on first need
    assert EvidenceFile.objects.unrestricted("t").get(pk=stored.pk).encrypted


def test_a_ciphertext_moved_to_another_programme_does_not_decrypt(ministry: Any, dakar: Programme) -> None:
    evidence, stored = _evidence(ministry, dakar)
    lima = _programme(ministry, "LIMA", Level.RESTRICTED)
    other = services.store_evidence_file(
        user=ministry.users["counsellor.lima"], programme=lima, filename="x.csv", content=b"lima figures"
    )
    other.storage_path.write_bytes(stored.storage_path.read_bytes())
    with pytest.raises(DecryptionError):
        other.read_bytes()
    # Nor onto another file of the same programme (the storage name is bound too).
    evidence.storage_path.write_bytes(stored.storage_path.read_bytes())
    with pytest.raises(DecryptionError):
        evidence.read_bytes()


@pytest.mark.parametrize("username", ["counsellor.dakar", "hom.dakar", "desk.dab1", "plan.sg4", "inspect.sg5"])
def test_readers_download_the_clear_file(client_for: Any, ministry: Any, dakar: Programme, username: str) -> None:
    evidence, stored = _evidence(ministry, dakar)
    client = client_for(username)
    for url in (f"/planning/{dakar.pk}/evidence/{evidence.pk}/", f"/planning/{dakar.pk}/files/{stored.pk}/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.content == SECRET
        assert response["Content-Disposition"].startswith("attachment")
        assert response["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("username", ["hom.lima", "counsellor.lima"])
def test_others_get_404_for_the_files(client_for: Any, ministry: Any, dakar: Programme, username: str) -> None:
    evidence, stored = _evidence(ministry, dakar)
    client = client_for(username)
    for url in (f"/planning/{dakar.pk}/evidence/{evidence.pk}/", f"/planning/{dakar.pk}/files/{stored.pk}/"):
        assert client.get(url).status_code == 404, url
    # Nor through a programme they can read.
    lima = _programme(ministry, "LIMA", Level.UNCLASSIFIED)
    assert client.get(f"/planning/{lima.pk}/files/{stored.pk}/").status_code == 404


def test_files_stay_readable_after_key_rotation(client_for: Any, ministry: Any, dakar: Programme) -> None:
    evidence, stored = _evidence(ministry, dakar)
    dakar.refresh_from_db()
    assert dakar.data_key_id is not None
    kek_before = DataKey.objects.get(pk=dakar.data_key_id).kek_id
    ciphertext = stored.storage_path.read_bytes()
    call_command("rotate_keys")
    assert DataKey.objects.get(pk=dakar.data_key_id).kek_id != kek_before
    assert stored.storage_path.read_bytes() == ciphertext  # rotation re-wraps keys only
    client = client_for("desk.dab1")
    response = client.get(f"/planning/{dakar.pk}/evidence/{evidence.pk}/")
    assert response.content == SECRET


def test_raising_the_marking_encrypts_clear_files(
    ministry: Any, data_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    programme = _programme(ministry, "DAKAR", Level.UNCLASSIFIED)
    evidence, stored = _evidence(ministry, programme)
    assert not evidence.encrypted and not stored.encrypted
    assert any(SECRET[:40] in p.read_bytes() for p in _files_under(data_dir / "evidence"))
    with django_capture_on_commit_callbacks(execute=True):
        services.update_programme(
            user=ministry.users["counsellor.dakar"], programme=programme, classification=Level.RESTRICTED
        )
    _assert_no_plaintext(data_dir / "evidence")
    for row in (evidence, stored):
        row.refresh_from_db()
        assert row.encrypted and row.read_bytes() == SECRET
    # Lowered again: the files stay encrypted and readable (the level is not bound).
    services.update_programme(
        user=ministry.users["counsellor.dakar"], programme=programme, classification=Level.UNCLASSIFIED
    )
    for row in (evidence, stored):
        row.refresh_from_db()
        assert row.encrypted and row.read_bytes() == SECRET
    # A full save of an instance read before the key existed does not drop it.
    programme.refresh_from_db()
    assert programme.data_key_id is not None
    stale = Programme.objects.unrestricted("t").get(pk=programme.pk)
    stale.data_key = None
    stale.title = "Renamed"
    stale.save()
    assert Programme.objects.unrestricted("t").get(pk=programme.pk).data_key_id == programme.data_key_id


def test_unprotected_evidence_stays_clear_and_removal_deletes_it(
    ministry: Any, data_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    programme = _programme(ministry, "DAKAR", Level.UNCLASSIFIED)
    evidence, _stored = _evidence(ministry, programme)
    assert evidence.read_bytes() == SECRET and evidence.storage_path.read_bytes() == SECRET
    path = evidence.storage_path
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_achievement_evidence(user=ministry.users["counsellor.dakar"], evidence=evidence)
    assert not path.exists()
    assert not AchievementEvidence.objects.unrestricted("t").filter(pk=evidence.pk).exists()


def test_stashed_workbooks_are_encrypted(ministry: Any, dakar: Programme, data_dir: Path) -> None:
    u = ministry.users
    token = spreadsheets.stash_upload(SECRET, user=u["hom.dakar"], programme=dakar, filename="plan.xlsx")
    stash_dir = data_dir / "imports" / "planning"
    for path in _files_under(stash_dir):
        assert b"TOP-SECRET" not in path.read_bytes() and b"plan.xlsx" not in path.read_bytes(), path
    loaded = spreadsheets.load_stash(token, user=u["hom.dakar"])
    assert loaded is not None and loaded[0] == SECRET and loaded[1]["filename"] == "plan.xlsx"
    assert spreadsheets.load_stash(token, user=u["counsellor.dakar"]) is None
    key_id = loaded[1]["data_key"]
    # Bound to its token: renamed under another stash's name, it does not decrypt.
    other = spreadsheets.stash_upload(b"other", user=u["hom.dakar"], programme=dakar, filename="b.xlsx")
    (stash_dir / f"{other}.bin").write_bytes((stash_dir / f"{token}.bin").read_bytes())
    assert spreadsheets.load_stash(other, user=u["hom.dakar"]) is None
    spreadsheets.discard_stash(token)
    assert spreadsheets.load_stash(token, user=u["hom.dakar"]) is None
    assert not DataKey.objects.filter(pk=key_id).exists()  # the key is gone with the stash
    assert not any(p.name.startswith(token) for p in _files_under(stash_dir))


def test_storage_rejects_odd_names(ministry: Any, dakar: Programme) -> None:
    _evidence_row, stored = _evidence(ministry, dakar)
    stored.storage_name = "../../keys/current"
    with pytest.raises(storage.StorageError):
        stored.read_bytes()
