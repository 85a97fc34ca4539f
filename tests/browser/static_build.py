"""The production static files for the page-weight test, built as a deployment builds them.

``collectstatic`` with WhiteNoise's ``CompressedManifestStaticFilesStorage`` (the default storage of
chancery.settings) hashes every file and writes .gz and .br side files; brotli at its highest
level takes a minute or more. So the result is cached under var/test/collected-static/<digest of
the sources>, and when the page-weight test is part of a run the build starts in a background
process as soon as collection ends, while the other browser tests run.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MANIFEST_STORAGE = "whitenoise.storage.CompressedManifestStaticFilesStorage"
IGNORED = ["admin"]  # the super-administrator's Django admin assets: no page measured uses them

_build: tuple[subprocess.Popen[bytes], Path, Path] | None = None


def cache_dir() -> Path:
    return Path(os.environ.get("CHANCERY_TEST_STATIC_CACHE", ROOT / "var" / "test" / "collected-static"))


def source_digest() -> str:
    from django.contrib.staticfiles.finders import get_finders

    digest = hashlib.sha256(f"{version('whitenoise')}|{MANIFEST_STORAGE}|{IGNORED}".encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list(IGNORED):
            entries.append((path, storage.path(path)))
    for path, full in sorted(entries):
        digest.update(path.encode())
        digest.update(Path(full).read_bytes())
    return digest.hexdigest()[:16]


def _target() -> Path:
    return cache_dir() / source_digest()


def start() -> None:
    """Start collecting in the background unless the files for these sources are already there."""
    global _build
    target = _target()
    if _build is not None or (target / "staticfiles.json").exists():
        return
    data_dir = cache_dir() / f"{target.name}.building-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key not in {"CHANCERY_PLAIN_STATIC", "DATABASE_URL"}}
    env.update({"DJANGO_SETTINGS_MODULE": "chancery.settings", "CHANCERY_DATA_DIR": str(data_dir)})
    command = [sys.executable, "-m", "django", "collectstatic", "--noinput", "-v", "0"]
    for pattern in IGNORED:
        command += ["--ignore", pattern]
    process = subprocess.Popen(  # at low priority: the browser tests run meanwhile
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=lambda: os.nice(10)
    )
    _build = (process, data_dir, target)


def collected() -> Path:
    """The STATIC_ROOT holding the collected files (built now if no background build was started)."""
    global _build
    start()
    if _build is not None:
        process, data_dir, target = _build
        output, _ = process.communicate(timeout=900)
        _build = None
        if process.returncode != 0:
            raise RuntimeError(f"collectstatic failed:\n{output.decode(errors='replace')}")
        with contextlib.suppress(OSError):  # another run may have finished first
            (data_dir / "static").rename(target)
        shutil.rmtree(data_dir, ignore_errors=True)
        for stale in cache_dir().iterdir():
            if stale.name != target.name and ".building-" not in stale.name:
                shutil.rmtree(stale, ignore_errors=True)
    target = _target()
    assert (target / "staticfiles.json").exists(), target
    return target


def stop() -> None:
    """End a background build that nobody waited for (the run was interrupted)."""
    global _build
    if _build is not None:
        process, data_dir, _target_dir = _build
        process.kill()
        process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
        _build = None
