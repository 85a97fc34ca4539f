"""Two real app servers against one PostgreSQL database and a shared cache (docs/deployment.md).

Two `chancery serve` processes (gunicorn, each with its own background task worker) on two
loopback ports, one data dir (the shared attachment store and secret key), one fresh PostgreSQL
database, `CHANCERY_CACHE=database`. Checked: an agent signed in on one server carries on on the
other with the same session cookie; dispatches sent concurrently through both get unique,
gap-free numbers; every background task queued (indexing after each send, the daily reminders
run both servers schedule at start) is run exactly once by one of the two workers.

Runs in the PostgreSQL part of `make test` (the SQLite part has no shared server database).
"""

from __future__ import annotations

import http.cookiejar
import re
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from chancery.backup import stress
from chancery.backup.tests.test_backup import postgres_database  # noqa: F401  (the fixture)

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="runs in the PostgreSQL part of `make test` (DATABASE_URL)"
)

SENDERS_PER_SERVER = 2
SENDS_EACH = 4
PORTS = (8261, 8262)
_QUERY = r"""
import json
from django_tasks_db.models import DBTaskResult
from chancery.correspondence.models import Dispatch
rows = list(DBTaskResult.objects.values("task_path", "status", "worker_ids", "args_kwargs", "exception_class_path"))
print(json.dumps({"tasks": rows, "sent": list(Dispatch.objects.unrestricted("test").exclude(number=None)
      .values_list("reference", flat=True))}))
"""


def _browser() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))


def _sign_in(opener: urllib.request.OpenerDirector, base: str, username: str) -> None:
    page = opener.open(f"{base}/accounts/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, "no CSRF token on the login page"
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token.group(1), "username": username,
                                   "password": "Chancery-demo-2026"}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback only
        f"{base}/accounts/login/", data=form, headers={"Referer": f"{base}/"}
    )
    opener.open(request, timeout=30).read()


def _home(opener: urllib.request.OpenerDirector, base: str) -> str:
    with opener.open(f"{base}/", timeout=30) as response:
        assert response.status == 200
        return str(response.geturl())


@pytest.mark.django_db
def test_two_servers_share_sessions_numbers_and_tasks(tmp_path: Path, postgres_database: Any) -> None:  # noqa: F811
    env = stress.site_env(tmp_path / "site", postgres_database())
    env["CHANCERY_CACHE"] = "database"
    env["CHANCERY_TASK_BACKEND"] = "database"
    (tmp_path / "site").mkdir()
    mission = stress.prepare_site(env, missions=1)[0]
    stress.chancery(env, "collectstatic", "--noinput", "-v0")
    servers = [stress.Server(env, port, workers=1, threads=4, log=tmp_path / f"server-{port}.log", task_worker=True)
               for port in PORTS]
    threads = [threading.Thread(target=server.start) for server in servers]
    try:
        for thread in threads:  # both at once: both schedule the daily reminders at start
            thread.start()
        for thread in threads:
            thread.join()
        assert all(server.process is not None for server in servers), "a server did not start"
        a, b = (server.url for server in servers)

        # A session opened on one server is valid on the other (same cookie, shared store).
        browser = _browser()
        _sign_in(browser, a, "clerk.sgbo")
        assert "/accounts/login" not in _home(browser, a)
        assert "/accounts/login" not in _home(browser, b), "the session did not carry over to the second server"
        assert "/accounts/login" in _home(_browser(), b)  # (a stranger is sent to sign in)

        # Concurrent sends through both servers: unique, gap-free numbers.
        ledger = stress.Ledger()
        apis = [stress.Api(url, mission["token"]) for url in (a, b)]

        def sender(api: stress.Api, first: int) -> None:
            for n in range(first, first + SENDS_EACH):
                try:
                    stress.send_one(api, mission, ledger, n, attach=False)
                except (stress.ApiError, OSError) as exc:
                    ledger.error(type(exc).__name__)

        workers = [threading.Thread(target=sender, args=(apis[i % 2], i * 100))
                   for i in range(2 * SENDERS_PER_SERVER)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert not ledger.errors, ledger.errors
        total = 2 * SENDERS_PER_SERVER * SENDS_EACH
        numbers = sorted(int(d["reference"].rsplit("/", 1)[1]) for d in ledger.dispatches)
        assert numbers == list(range(1, total + 1)), numbers

        # Every queued task runs once: indexing after each send, one daily reminders run queued.
        deadline = time.monotonic() + 40
        while True:
            import json

            state = json.loads(stress.chancery(env, "shell", "-c", _QUERY).strip().splitlines()[-1])
            indexing = [t for t in state["tasks"] if t["task_path"].endswith("index_object")]
            if (indexing and all(t["status"] in {"SUCCESSFUL", "FAILED"} for t in indexing)) \
                    or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert sorted(state["sent"]) == sorted(d["reference"] for d in ledger.dispatches)
        assert len(indexing) >= total
        for result in indexing:
            assert result["status"] in {"SUCCESSFUL", "FAILED"}, result  # run, none left waiting
            assert len(result["worker_ids"]) == 1, result  # claimed by one worker, once
        # every object indexed: an attempt that failed (e.g. two workers writing the index at once)
        # is queued again by the task itself, as a new task
        done = {tuple(t["args_kwargs"]["args"][:2]) for t in indexing if t["status"] == "SUCCESSFUL"}
        wanted = {tuple(t["args_kwargs"]["args"][:2]) for t in indexing}
        assert wanted <= done, [t for t in indexing if t["status"] == "FAILED"]
        reminders = [t for t in state["tasks"] if t["task_path"].endswith("send_reminders_task")]
        assert len([t for t in reminders if t["status"] == "READY"]) == 1, reminders
    finally:
        for server in servers:
            server.stop()
