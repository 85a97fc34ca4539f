"""The production static files for the page-weight test, built as a deployment builds them.

``collectstatic`` with WhiteNoise's ``CompressedManifestStaticFilesStorage`` (the default storage of
chancery.settings) hashes every file and writes .gz and .br side files; brotli at its highest
level takes a minute or more. So the result is cached under var/test/collected-static/<digest of
the sources>, and when the page-weight test is part of a run the build starts in a background
process as soon as collection ends, while the other browser tests run.

The browser tests run on two xdist workers, which both collect the page-weight test, and two runs
may share the cache: a lock file in the cache folder lets one process build while the others wait
for its result. The build process holds the lock and installs its own result, so a worker that
waits (only the one that runs the page-weight test ever does, in ``collected()``) waits for the
build only, not for the session of the worker that started it; a build that dies releases the
lock and the waiter builds.
"""

from __future__ import annotations

import contextlib
import fcntl
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

_build: subprocess.Popen[bytes] | None = None


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


def _ready(target: Path) -> bool:
    return (target / "staticfiles.json").exists()


def _lock(*, wait: bool) -> int | None:
    """The build lock (an open file descriptor), or None when another process holds it and `wait` is False."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    descriptor = os.open(cache_dir() / ".build.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(descriptor)
        return None
    return descriptor


def start() -> None:
    """Start collecting in the background unless the files for these sources are already there
    or another process is collecting them."""
    global _build
    target = _target()
    if _build is not None or _ready(target):
        return
    lock = _lock(wait=False)
    if lock is None:
        return  # another worker or run builds them; collected() waits for it
    try:
        if _ready(target):  # finished while we took the lock
            return
        env = {key: value for key, value in os.environ.items()
               if key not in {"CHANCERY_PLAIN_STATIC", "DATABASE_URL"}}
        env["DJANGO_SETTINGS_MODULE"] = "chancery.settings"
        # The build inherits the lock and holds it until it has installed its result (or died).
        _build = subprocess.Popen(  # at low priority: the browser tests run meanwhile
            [sys.executable, "-m", "tests.browser.static_build", str(target)], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(lock,), preexec_fn=lambda: os.nice(10),
        )
    finally:
        os.close(lock)  # the child's copy keeps the lock while it runs


def _wait() -> None:
    """Wait for this process's build (which installs its result itself)."""
    global _build
    if _build is None:
        return
    process, _build = _build, None
    output, _ = process.communicate(timeout=900)
    if process.returncode != 0:
        raise RuntimeError(f"collectstatic failed:\n{output.decode(errors='replace')}")


def collected() -> Path:
    """The STATIC_ROOT holding the collected files (built now if nobody is building them)."""
    target = _target()
    start()
    _wait()
    if not _ready(target):
        # Another process holds the lock: wait until its build ends, then build here if it
        # did not install the files (it was interrupted).
        lock = _lock(wait=True)
        assert lock is not None
        os.close(lock)
        start()
        _wait()
    assert _ready(target), target
    return target


def stop(*, interrupted: bool) -> None:
    """At the end of a session: wait for a build another worker may be waiting for, or end it
    when the run was interrupted."""
    global _build
    if _build is None:
        return
    if not interrupted:
        _wait()
        return
    _build.kill()
    _build.wait()
    _build = None


def _build_into(target: Path) -> None:
    """In the build process: collect into a private data dir, then install it as `target`."""
    data_dir = cache_dir() / f"{target.name}.building-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    os.environ["CHANCERY_DATA_DIR"] = str(data_dir)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("collectstatic", interactive=False, verbosity=0, ignore_patterns=IGNORED)
    with contextlib.suppress(OSError):  # another run may have finished first
        (data_dir / "static").rename(target)
    shutil.rmtree(data_dir, ignore_errors=True)
    for stale in cache_dir().iterdir():
        if stale.is_dir() and stale.name != target.name and ".building-" not in stale.name:
            shutil.rmtree(stale, ignore_errors=True)


if __name__ == "__main__":
    _build_into(Path(sys.argv[1]))
