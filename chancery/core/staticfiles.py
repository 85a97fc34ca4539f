"""Static files collected once per change of their sources, before the server lists them.

WhiteNoise lists ``STATIC_ROOT`` when the WSGI application is built, so the files must be in place
before that; and collecting with the compressing storage (brotli at its highest level) takes tens
of seconds, so a restart with unchanged sources must not collect again. A stamp in ``STATIC_ROOT``
records a digest of what was collected (every source file's path, size and modification time, the
storage backend and the WhiteNoise version).
"""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import get_finders
from django.core.management import call_command

STAMP_NAME = ".chancery-collected"


def sources_digest() -> str:
    digest = hashlib.sha256(f"{version('whitenoise')}|{settings.STORAGES['staticfiles']['BACKEND']}".encode())
    entries = []
    for finder in get_finders():
        for path, storage in finder.list([]):
            stat = Path(storage.path(path)).stat()
            entries.append(f"{path}|{stat.st_size}|{stat.st_mtime_ns}")
    for entry in sorted(entries):
        digest.update(entry.encode())
    return digest.hexdigest()


def collect_if_needed() -> bool:
    """Collect the static files unless the stamp says these sources are already collected; True if it collected."""
    stamp = Path(settings.STATIC_ROOT) / STAMP_NAME
    wanted = sources_digest()
    if stamp.exists() and stamp.read_text() == wanted:
        return False
    call_command("collectstatic", interactive=False, verbosity=0)
    stamp.write_text(wanted)
    return True
