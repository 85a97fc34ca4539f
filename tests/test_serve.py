"""`chancery serve` started for real on an empty data dir: the first page is styled, a restart is quick.

The server is a real subprocess (gunicorn + WhiteNoise). Static files are collected with the plain
storage (CHANCERY_PLAIN_STATIC) to keep the test short; the order of collection and listing, which
this test is about, is the same with the compressing storage.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

# the server runs on its own SQLite data dir whatever DATABASE_URL says: once per `make test`
pytestmark = pytest.mark.engine_independent

CHANCERY = Path(sys.executable).parent / "chancery"
PORT = int(os.environ.get("CHANCERY_TEST_SERVE_PORT", "8087"))


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHANCERY_", "DATABASE_URL", "DJANGO_"))}
    return {**env, "CHANCERY_DATA_DIR": str(data_dir), "CHANCERY_PLAIN_STATIC": "true"}


def _wait_for_port(process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.communicate()[0]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", PORT)) == 0:
                return
        time.sleep(0.3)
    raise AssertionError("the server did not start listening")


def _serve(data_dir: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(CHANCERY), "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", "1", "--no-task-worker"],
        env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    _wait_for_port(process)
    return process


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


def _get(path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=30) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, ""


def test_first_start_serves_the_stylesheets_and_a_restart_does_not_collect_again(tmp_path):
    data_dir = tmp_path / "fresh-clone-data"
    data_dir.mkdir()
    migrate = subprocess.run([str(CHANCERY), "migrate", "--noinput", "-v0"], env=_env(data_dir),
                             capture_output=True, text=True, timeout=300, check=False)
    assert migrate.returncode == 0, migrate.stderr

    server = _serve(data_dir)
    try:
        status, login_page = _get("/accounts/login/")
        assert status == 200
        stylesheets = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', login_page)
        stylesheets += re.findall(r'<link[^>]+href="([^"]+\.css)"', login_page)
        assert stylesheets, "the login page links no stylesheet"
        for href in set(stylesheets):
            status, body = _get(href)
            assert status == 200, f"{href} answers {status} on the first start"
            assert body.strip()
        favicon_status, _ = _get("/favicon.ico")
        assert favicon_status == 200
    finally:
        first_output = _stop(server)
    assert "Static files collected." in first_output

    server = _serve(data_dir)
    try:
        status, login_page = _get("/accounts/login/")
        assert status == 200
    finally:
        second_output = _stop(server)
    assert "Static files collected." not in second_output, "a restart with unchanged sources collected again"
