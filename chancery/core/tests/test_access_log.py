"""The served access log: paths only, never a query string (search terms must not reach the disk)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

PORT = 8093  # this suite's own port range (8090-8099)


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stdout.read().decode() if process.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start")


def test_the_access_log_has_no_query_string_and_no_referrer(tmp_path: Path) -> None:
    env = {**os.environ, "CHANCERY_DATA_DIR": str(tmp_path), "CHANCERY_LOG_LEVEL": "WARNING"}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "chancery.cli", "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", "1",
         "--no-collectstatic", "--no-task-worker"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for(PORT, process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{PORT}/healthz?q=Kinshasa-ceasefire&next=/planning/?q=oilfield",
            headers={"Referer": f"http://127.0.0.1:{PORT}/search/?q=defector-name"},
        )
        # The status does not matter here, the log line does.
        with contextlib.suppress(urllib.error.HTTPError):
            urllib.request.urlopen(request, timeout=30).read()  # noqa: S310 (a fixed http:// URL)
        time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    log = output.decode(errors="replace")
    assert "GET /healthz HTTP/1.1" in log, log  # the line is there...
    for word in ("Kinshasa", "ceasefire", "oilfield", "defector", "?q="):
        assert word not in log  # ...without the query string or the referrer
