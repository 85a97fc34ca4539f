"""The signed package of a sent dispatch: one zip file anyone can check offline.

Pure Python (standard library + `cryptography`): no Django, no database, no keys of the
ministry. `chancery verify-dispatch --package FILE` runs this before Django is even set up.

Layout (format `chancery-dispatch-package/v1`)::

    manifest.json       format, reference, signing unit, key fingerprint, file list
    content.json        the canonical content exactly as signed (UTF-8 JSON, sorted keys,
                        no whitespace); it lists every attachment's name, size and SHA-256
    signature.b64       the Ed25519 signature of content.json's bytes, base64 (one line)
    public_key.pem      the signing unit's Ed25519 public key (SubjectPublicKeyInfo PEM)
    attachments/NN_name the attachment files, NN = the attachment's number
    README.txt          how to check it with openssl and sha256sum

The fingerprint of a key is the SHA-256 (hex) of its raw 32 bytes, as published on the
ministry's page of unit keys: compare it (`--key`) to know the package was signed by the unit.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from chancery.crypto.signing import verify

FORMAT = "chancery-dispatch-package/v1"
MAX_MEMBERS = 1000
MAX_TOTAL_BYTES = 2 * 1024**3
REQUIRED = ("manifest.json", "content.json", "signature.b64", "public_key.pem")

README = """Signed dispatch package ({format})

This file holds one dispatch sent by a unit of the ministry, exactly as it was signed.

content.json     the signed content (canonical JSON), with the SHA-256 of each attachment
signature.b64    the unit's Ed25519 signature of the bytes of content.json (base64)
public_key.pem   the unit's public key; its fingerprint (SHA-256 of the raw key) is {fingerprint}
attachments/     the attachment files

Check it with standard tools (OpenSSL 3):
  base64 -d signature.b64 > signature.bin
  openssl pkeyutl -verify -pubin -inkey public_key.pem -rawin -in content.json -sigfile signature.bin
  sha256sum attachments/*      (compare with the "sha256" values in content.json)
Compare the key's fingerprint with the one the ministry publishes for {unit}:
  openssl pkey -pubin -in public_key.pem -outform DER | tail -c 32 | sha256sum
Or, with Chancery installed (no database needed):
  chancery verify-dispatch --package THIS_FILE --key {fingerprint}
"""


def fingerprint(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()


def public_key_pem(public_key: bytes) -> str:
    key = Ed25519PublicKey.from_public_bytes(public_key)
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def attachment_path(position: int, filename: str) -> str:
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)[:120] or "file"
    return f"attachments/{position:02d}_{safe}"


def build(
    *,
    content: bytes,
    signature: bytes,
    public_key: bytes,
    key_id: int | None,
    attachments: list[tuple[int, str, bytes]],
    exported_at: str,
) -> bytes:
    """The zip bytes from the signed content, its signature, the key and the attachment files
    ((number, clear file name, bytes)). The caller has checked the signature first."""
    data = json.loads(content)
    files = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content.json", content)
        archive.writestr("signature.b64", base64.b64encode(signature).decode() + "\n")
        archive.writestr("public_key.pem", public_key_pem(public_key))
        for position, filename, blob in attachments:
            path = attachment_path(position, filename)
            archive.writestr(path, blob)
            files.append({"n": position, "path": path, "size": len(blob), "sha256": hashlib.sha256(blob).hexdigest()})
        manifest = {
            "format": FORMAT,
            "reference": data.get("reference"),
            "signing_unit": data.get("sending_unit"),
            "key_id": key_id,
            "key_fingerprint": fingerprint(public_key),
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "signature_algorithm": "Ed25519",
            "attachments": files,
            "exported_at": exported_at,
        }
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
        readme = README.format(format=FORMAT, fingerprint=manifest["key_fingerprint"], unit=data.get("sending_unit"))
        archive.writestr("README.txt", readme)
    return buffer.getvalue()


@dataclass
class PackageCheck:
    valid: bool
    reference: str = ""
    unit: str = ""
    fingerprint: str = ""
    attachments: int = 0
    part: str = ""  # which part failed: a member name, or "package"
    problem: str = ""
    content: dict[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        ref = self.reference or "package"
        if self.valid:
            noun = "attachment" if self.attachments == 1 else "attachments"
            return (
                f"{ref}: valid (signed by {self.unit}, key fingerprint {self.fingerprint}, {self.attachments} {noun})"
            )
        return f"{ref}: INVALID — {self.part}: {self.problem}"


def _fail(part: str, problem: str, **known: Any) -> PackageCheck:
    return PackageCheck(valid=False, part=part, problem=problem, **known)


def check(data: bytes, *, expected_fingerprint: str | None = None) -> PackageCheck:
    """Verify a package's bytes; the first problem found is reported with the part it is in."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return _fail("package", "not a zip file")
    if len(infos) > MAX_MEMBERS or sum(i.file_size for i in infos) > MAX_TOTAL_BYTES:
        return _fail("package", "too many or too large members")
    names = {i.filename for i in infos}
    for member in REQUIRED:
        if member not in names:
            return _fail(member, "missing from the package")

    def read(name: str) -> bytes:
        return archive.read(name)

    try:
        manifest = json.loads(read("manifest.json"))
        if not isinstance(manifest, dict):
            raise ValueError
    except (ValueError, zipfile.BadZipFile):
        return _fail("manifest.json", "not valid JSON")
    if manifest.get("format") != FORMAT:
        return _fail("manifest.json", f"unknown format {str(manifest.get('format'))[:60]!r}")
    known: dict[str, Any] = {"reference": str(manifest.get("reference") or "")}
    try:
        key = serialization.load_pem_public_key(read("public_key.pem"))
    except (ValueError, TypeError):
        return _fail("public_key.pem", "not a public key", **known)
    if not isinstance(key, Ed25519PublicKey):
        return _fail("public_key.pem", "not an Ed25519 public key", **known)
    raw_key = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    known["fingerprint"] = fingerprint(raw_key)
    if expected_fingerprint and expected_fingerprint.strip().lower().replace(":", "") != known["fingerprint"]:
        return _fail(
            "public_key.pem", "its fingerprint differs from the expected key's: not signed by that unit", **known
        )
    try:
        signature = base64.b64decode(read("signature.b64").strip(), validate=True)
    except (binascii.Error, ValueError):
        return _fail("signature.b64", "not base64", **known)
    content_bytes = read("content.json")
    if not verify(raw_key, content_bytes, signature):
        if hashlib.sha256(content_bytes).hexdigest() != manifest.get("content_sha256"):
            return _fail("content.json", "altered: the signature does not match it", **known)
        return _fail("signature.b64", "does not match content.json under this key (signature or key altered)", **known)
    try:
        content = json.loads(content_bytes)
    except ValueError:
        return _fail("content.json", "not valid JSON", **known)
    known["reference"] = str(content.get("reference") or "")
    known["unit"] = str(content.get("sending_unit") or "")
    signed = sorted(content.get("attachments") or [], key=lambda a: a.get("n", 0))
    members = sorted(n for n in names if n.startswith("attachments/") and not n.endswith("/"))
    by_number: dict[int, str] = {}
    for path in members:
        prefix = path.removeprefix("attachments/").split("_", 1)[0]
        if not prefix.isdigit() or int(prefix) in by_number:
            return _fail(path, "not covered by the signature", **known)
        by_number[int(prefix)] = path
    for entry in signed:
        number = int(entry.get("n", 0))
        found = by_number.get(number)
        if found is None:
            return _fail(f"attachment {number} ({entry.get('filename')})", "missing from the package", **known)
        del by_number[number]
        blob = read(found)
        if hashlib.sha256(blob).hexdigest() != entry.get("sha256") or len(blob) != entry.get("size"):
            return _fail(found, "altered: it does not match the SHA-256 signed in content.json", **known)
    if by_number:
        return _fail(sorted(by_number.values())[0], "not covered by the signature", **known)
    return PackageCheck(valid=True, attachments=len(signed), content=content, **known)


def main(argv: list[str]) -> int:
    """`verify-dispatch --package FILE [--key FINGERPRINT]` without Django (offline)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="chancery verify-dispatch",
        description="Verify a signed dispatch package offline (no database or keys needed).",
    )
    parser.add_argument("--package", required=True, help="the package file (.zip)")
    parser.add_argument("--key", default=None, help="the published fingerprint of the unit's key (SHA-256 hex)")
    options, _rest = parser.parse_known_args(argv)
    try:
        with open(options.package, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        print(f"chancery: {options.package}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    result = check(data, expected_fingerprint=options.key)
    if not result.valid:
        print(result.line(), file=sys.stderr)
        return 1
    print(result.line())
    return 0
