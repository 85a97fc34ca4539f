"""Signed packages: exported from the database, verified offline by a process with no
database, data directory or keys (and by OpenSSL), and tampered packages named by part."""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command

from chancery.core.classification import Level
from chancery.correspondence import package_format
from chancery.correspondence.models import Dispatch
from chancery.correspondence.tests.domain_helpers import PDF, sent

pytestmark = pytest.mark.django_db

CHANCERY = str(Path(sys.executable).with_name("chancery"))


def _offline_env(tmp_path: Path) -> dict[str, str]:
    # Nothing of the ministry: no database URL, no data directory, no keys.
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
    keep["CHANCERY_DATA_DIR"] = str(tmp_path / "nowhere")
    return keep


def _export(ministry, tmp_path: Path) -> tuple[Path, Dispatch]:
    dispatch = sent(
        ministry,
        classification=Level.RESTRICTED,
        attachments=[("programme semaine.pdf", PDF)],
        subject="Semaine culturelle : programme définitif",
    )
    out = tmp_path / "package.zip"
    call_command("export_dispatch", dispatch.reference, "--out", str(out))
    return out, dispatch


def _rewrite(source: Path, target: Path, change) -> Path:
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info.filename))
            if data is not None:
                new.writestr(info.filename, data)
    return target


def _run(tmp_path: Path, package: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHANCERY, "verify-dispatch", "--package", str(package), *extra],
        capture_output=True,
        text=True,
        env=_offline_env(tmp_path),
        cwd=tmp_path,
        timeout=120,
    )


def test_package_verifies_offline_without_database(ministry, tmp_path):
    out, dispatch = _export(ministry, tmp_path)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        content = json.loads(archive.read("content.json"))
        manifest = json.loads(archive.read("manifest.json"))
    assert {"manifest.json", "content.json", "signature.b64", "public_key.pem", "README.txt"} <= names
    assert content["subject"] == "Semaine culturelle : programme définitif"
    assert content["reference"] == dispatch.reference
    fingerprint = manifest["key_fingerprint"]
    result = _run(tmp_path, out, "--key", fingerprint)
    assert result.returncode == 0, result.stderr
    assert f"{dispatch.reference}: valid" in result.stdout and "DAKAR" in result.stdout
    assert not (tmp_path / "nowhere").exists()  # the verifier wrote nothing, needed nothing


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_package_checks_with_openssl(ministry, tmp_path):
    out, _dispatch = _export(ministry, tmp_path)
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(out) as archive:
        archive.extractall(folder)
    (folder / "signature.bin").write_bytes(base64.b64decode((folder / "signature.b64").read_text()))
    command = [
        "openssl",
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "public_key.pem",
        "-rawin",
        "-in",
        "content.json",
        "-sigfile",
        "signature.bin",
    ]
    good = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "Signature Verified Successfully" in good.stdout
    (folder / "content.json").write_bytes((folder / "content.json").read_bytes().replace(b"Semaine", b"Semainf"))
    bad = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


def test_tampered_packages_say_which_part(ministry, tmp_path):
    out, _dispatch = _export(ministry, tmp_path)
    fingerprint = json.loads(zipfile.ZipFile(out).read("manifest.json"))["key_fingerprint"]
    other_key = Ed25519PrivateKey.generate()
    other_pem = package_format.public_key_pem(other_key.public_key().public_bytes_raw())

    def attachment(name: str) -> bool:
        return name.startswith("attachments/")

    cases = {
        "content.json": lambda n, d: d.replace("définitif".encode(), b"provisoire") if n == "content.json" else d,
        "attachments/01_programme_semaine.pdf": lambda n, d: d + b"%extra" if attachment(n) else d,
        "signature.b64": lambda n, d: base64.b64encode(other_key.sign(b"x")) if n == "signature.b64" else d,
        "public_key.pem": lambda n, d: other_pem.encode() if n == "public_key.pem" else d,
        "attachment 1": lambda n, d: None if attachment(n) else d,
        "attachments/02_added.exe": lambda n, d: d,
    }
    for part, change in cases.items():
        target = _rewrite(out, tmp_path / f"t-{len(part)}.zip", change)
        if part == "attachments/02_added.exe":
            with zipfile.ZipFile(target, "a") as archive:
                archive.writestr("attachments/02_added.exe", b"MZ")
        result = package_format.check(target.read_bytes(), expected_fingerprint=fingerprint)
        assert not result.valid, part
        assert result.part.startswith(part), (part, result.line())
    # The offline command says it too, on stderr, with a non-zero exit.
    target = _rewrite(out, tmp_path / "content.zip", cases["content.json"])
    offline = _run(tmp_path, target)
    assert offline.returncode == 1 and "content.json" in offline.stderr and "INVALID" in offline.stderr
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip")
    assert "not a zip file" in _run(tmp_path, garbage).stderr
    assert _run(tmp_path, tmp_path / "missing.zip").returncode == 2


def test_signature_swap_without_expected_key_is_still_caught(ministry, tmp_path):
    """A forger who re-signs altered content with their own key and puts that key in: only the
    published fingerprint catches it — which is why the page of unit keys exists."""
    out, _dispatch = _export(ministry, tmp_path)
    forged_key = Ed25519PrivateKey.generate()
    with zipfile.ZipFile(out) as archive:
        content = archive.read("content.json").replace("définitif".encode(), "annulé".encode())
    forged = io.BytesIO()
    with zipfile.ZipFile(out) as old, zipfile.ZipFile(forged, "w") as new:
        for name in old.namelist():
            data = old.read(name)
            if name == "content.json":
                data = content
            elif name == "signature.b64":
                data = base64.b64encode(forged_key.sign(content))
            elif name == "public_key.pem":
                data = package_format.public_key_pem(forged_key.public_key().public_bytes_raw()).encode()
            new.writestr(name, data)
    real = json.loads(zipfile.ZipFile(out).read("manifest.json"))["key_fingerprint"]
    result = package_format.check(forged.getvalue(), expected_fingerprint=real)
    assert not result.valid and result.part == "public_key.pem"
