"""Driving a real Chancery server from outside: the crash test and the load benchmark share this.

A *site* is a data dir and a database (SQLite in the data dir, or a PostgreSQL URL) that the
harness migrates and fills with the demo organisation. The server is the real `chancery serve`
(gunicorn, several worker processes) in a process group of its own, so that SIGKILL takes the
whole server down at once, mid-request, as a power cut would. Clients speak to the JSON API
over loopback only, with tokens issued by the real command.

`python -m chancery.backup.stress check FILE` runs the after-crash checks (see `check_site`) in
a process configured for the site.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 120.0

_SETUP = r"""
import json
from chancery.accounts.services import issue_api_token
from chancery.accounts.models import User
from chancery.organisation.models import Unit
missions = []
for unit in Unit.objects.unrestricted("stress setup").filter(kind="mission", hq_desk__isnull=False).order_by("code"):
    head = User.objects.filter(username="hom." + unit.code.lower()).first()
    if head is not None:
        missions.append({"code": unit.code, "desk": unit.hq_desk.code, "user": head.username,
                         "token": issue_api_token(user=head, name="stress", lifetime_days=1)})
    if len(missions) >= %(count)d:
        break
print(json.dumps(missions))
"""


def site_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CHANCERY_MASTER_KEY"}}
    env["CHANCERY_DATA_DIR"] = str(data_dir)
    env["CHANCERY_TASK_BACKEND"] = "immediate"
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def chancery(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "chancery.cli", *args], env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"chancery {' '.join(args)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout


def prepare_site(env: dict[str, str], *, missions: int) -> list[dict[str, str]]:
    """Migrate, load the demo organisation, and return `missions` missions with their head's API token."""
    chancery(env, "migrate", "-v0")
    chancery(env, "demo", "--organisation-only")
    return mission_tokens(env, missions=missions)


def mission_tokens(env: dict[str, str], *, missions: int) -> list[dict[str, str]]:
    """`missions` missions of the site with their desk and an API token of their head."""
    return json.loads(chancery(env, "shell", "-c", _SETUP % {"count": missions}).strip().splitlines()[-1])


class Server:
    """`chancery serve` on loopback, in its own process group."""

    def __init__(self, env: dict[str, str], port: int, *, workers: int = 2, threads: int = 4, log: Path,
                 task_worker: bool = False) -> None:
        self.env, self.port, self.workers, self.threads, self.log = env, port, workers, threads, log
        self.task_worker = task_worker  # `chancery serve` starts its background task worker too
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self) -> None:
        # Another server on the port would answer the readiness check below, and the run would
        # measure (or fail against) a site that is not this one.
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=1):
            raise RuntimeError(f"port {self.port} on {LOOPBACK} is already in use: stop what listens there")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "chancery.cli", "serve", "--bind", f"{LOOPBACK}:{self.port}",
                 "--workers", str(self.workers), "--threads", str(self.threads), "--no-collectstatic",
                 *([] if self.task_worker else ["--no-task-worker"])],
                env=self.env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"the server exited at start: {' | '.join(tail)}")
            try:
                # Any answer from the API (401 without a token) means a worker serves requests.
                with urllib.request.urlopen(f"{self.url}/api/v1/units", timeout=5):  # noqa: S310
                    return
            except urllib.error.HTTPError:
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"the server did not answer within {READY_TIMEOUT:.0f} s (see {self.log})")

    def kill(self) -> None:
        """SIGKILL to the whole process group: master and workers die mid-request."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


class ApiError(Exception):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status


class Api:
    """A minimal JSON client (stdlib only); only ever pointed at loopback."""

    def __init__(self, base_url: str, token: str) -> None:
        if not base_url.startswith(f"http://{LOOPBACK}:"):
            raise ValueError("the stress clients only target loopback")
        self.base, self.token = base_url.rstrip("/") + "/api/v1", token

    def call(self, method: str, path: str, body: Any = None, *, files: dict[str, tuple[str, bytes]] | None = None,
             timeout: float = 60) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        data: bytes | None = None
        if files:
            boundary = secrets.token_hex(12)
            parts = []
            for name, (filename, content) in files.items():
                parts.append(
                    f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                    f"Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
                )
            data = b"".join(parts) + f"--{boundary}--\r\n".encode()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise ApiError(exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(raw) if raw else None


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@dataclass
class Ledger:
    """What the clients saw acknowledged (and what failed), shared by the client threads."""

    dispatches: list[dict[str, Any]] = field(default_factory=list)
    actions: dict[int, dict[str, int]] = field(default_factory=dict)  # the last acknowledged state of each
    action_updates: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, kind: str) -> None:
        with self.lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def timed(self, op: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = call()
        with self.lock:
            self.latencies.setdefault(op, []).append(time.perf_counter() - started)
        return result


def make_action(api: Api, mission: str, year: int) -> int:
    """A draft programme of the mission with one action (set up through the API)."""
    programme = api.call("POST", "/programmes", {"mission": mission, "year": year, "title": "stress"})
    axes = api.call("GET", f"/axes?programme={programme['id']}")
    axis = (axes["items"] if isinstance(axes, dict) else axes)[0]["id"]
    return int(api.call("POST", "/actions", {"programme": programme["id"], "axis": axis, "title": "stress"})["id"])


def send_one(api: Api, mission: dict[str, str], ledger: Ledger, n: int, *, attach: bool) -> None:
    draft = ledger.timed("create", lambda: api.call("POST", "/dispatches", {
        "sending_unit": mission["code"], "subject": f"Stress {mission['code']} {n}", "body": "<p>test</p>",
        "routings": [{"unit": mission["desk"], "kind": "action"}],
    }))
    if attach:
        ledger.timed("attach", lambda: api.call("POST", f"/dispatches/{draft['id']}/attachments",
                                                files={"file": (f"pj-{n}.pdf", PDF + str(n).encode())}))
    sent = ledger.timed("send", lambda: api.call("POST", f"/dispatches/{draft['id']}/send"))
    with ledger.lock:
        ledger.dispatches.append({"id": sent["id"], "reference": sent["reference"], "attachments": int(attach)})


def update_action(api: Api, action_id: int, ledger: Ledger, n: int) -> None:
    current = ledger.timed("read_action", lambda: api.call("GET", f"/actions/{action_id}"))
    progress = n % 101
    updated = ledger.timed("update_action", lambda: api.call(
        "PATCH", f"/actions/{action_id}", {"lock_version": current["lock_version"], "progress": progress}))
    with ledger.lock:
        ledger.actions[action_id] = {"lock_version": updated["lock_version"], "progress": progress}
        ledger.action_updates += 1


# --- the crash test ---------------------------------------------------------------------


def _client_loop(stop: threading.Event, ledger: Ledger, work: Callable[[int], None]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        try:
            work(n)
        except ApiError as exc:
            ledger.error(f"http_{exc.status}")
            time.sleep(0.05)
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
            # The server is down (killed) or the answer was cut: not acknowledged, retry later.
            ledger.error("connection")
            time.sleep(0.1)


def _await_progress(ledger: Ledger, dispatches: int, action_updates: int, *, timeout: float = 90.0) -> None:
    """Wait (bounded) until each kind of write has been acknowledged once more in this round.

    On a loaded machine the first writes after a restart can take longer than the random run
    time; killing before any acknowledgement would make the round prove nothing.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(ledger.dispatches) > dispatches and ledger.action_updates > action_updates:
            return
        time.sleep(0.05)


def crash_test(
    *, work: Path, database_url: str | None, port: int, kills: int, senders: int = 3, updaters: int = 2,
    run_seconds: tuple[float, float] = (1.0, 3.0), workers: int = 2, seed: int = 1,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """Kill the real server `kills` times under concurrent writers, restart, then check everything."""
    import random

    rng = random.Random(seed)
    env = site_env(work / "data", database_url)
    missions = prepare_site(env, missions=senders + updaters)
    server = Server(env, port, workers=workers, log=work / "server.log")
    ledger = Ledger()
    server.start()
    apis = [Api(server.url, m["token"]) for m in missions]
    actions = [make_action(apis[senders + i], missions[senders + i]["code"], 2031) for i in range(updaters)]
    started = time.monotonic()
    try:
        for round_no in range(1, kills + 1):
            stop = threading.Event()
            threads = [
                threading.Thread(target=_client_loop, args=(stop, ledger, lambda n, i=i: send_one(
                    apis[i], missions[i], ledger, n, attach=n % 2 == 0)), daemon=True)
                for i in range(senders)
            ] + [
                threading.Thread(target=_client_loop, args=(stop, ledger, lambda n, i=i: update_action(
                    apis[senders + i], actions[i], ledger, n)), daemon=True)
                for i in range(updaters)
            ]
            for thread in threads:
                thread.start()
            _await_progress(ledger, len(ledger.dispatches), ledger.action_updates)
            time.sleep(rng.uniform(*run_seconds))
            server.kill()  # mid-write: the clients are still sending
            stop.set()
            for thread in threads:
                thread.join(timeout=90)
            progress(f"kill {round_no}/{kills}: {len(ledger.dispatches)} dispatches and "
                     f"{ledger.action_updates} action updates acknowledged so far")
            server.start()
    finally:
        server.stop()
    findings = run_checks(env, ledger, work)
    findings.update({
        "engine": "postgresql" if database_url else "sqlite",
        "kills": kills,
        "seconds": round(time.monotonic() - started, 1),
        "client_errors": ledger.errors,
        "senders": senders,
        "updaters": updaters,
        "server_workers": workers,
    })
    return findings


# --- the load benchmark ---------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _agent_loop(api: Api, mission: dict[str, str], action_id: int, ledger: Ledger, stop: threading.Event,
                seed: int, search: bool) -> None:
    """One simulated agent: read the inbox, open a dispatch, search, update an action, send a dispatch."""
    import random

    rng = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        choice = rng.random()
        try:
            if choice < 0.30:
                ledger.timed("inbox", lambda: api.call("GET", "/inbox"))
            elif choice < 0.60:
                listing = ledger.timed("list", lambda: api.call("GET", "/dispatches?limit=20"))
                items = listing["items"] if isinstance(listing, dict) else listing
                if items:
                    path = f"/dispatches/{rng.choice(items)['id']}"
                    ledger.timed("open", lambda: api.call("GET", path))  # noqa: B023 - called at once
            elif choice < 0.70 and search:
                ledger.timed("search", lambda: api.call("GET", "/search?q=Load"))
            elif choice < 0.85:
                update_action(api, action_id, ledger, n)
            else:
                send_one(api, mission, ledger, n, attach=False)
        except ApiError as exc:
            ledger.error(f"http_{exc.status}")
        except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError):
            ledger.error("connection")


_COUNT = r"""
import json
from chancery.correspondence.models import RELEASED_STATUSES, Dispatch
from chancery.planning.models import Action
ids = json.load(open(%(path)r))
d = Dispatch.objects.unrestricted("bench count").filter(subject__startswith="Stress ")
print(json.dumps({"created": d.count(), "sent": d.filter(status__in=RELEASED_STATUSES).count(),
                  "sent_ids_present": Dispatch.objects.unrestricted("bench").filter(pk__in=ids["sent"]).count(),
                  "action_versions": sum(Action.objects.unrestricted("bench").filter(pk__in=ids["actions"])
                                         .values_list("lock_version", flat=True))}))
"""


def load_test(
    *, work: Path, database_url: str | None, port: int, agents: list[int], seconds: float, workers: int = 2,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Any]:
    """The mixed workload at each concurrency for `seconds`, then records created vs acknowledged."""
    env = site_env(work / "data", database_url)
    most = max(agents)
    missions = prepare_site(env, missions=most)
    if len(missions) < most:
        raise RuntimeError(f"the demo organisation has {len(missions)} missions with a head, {most} needed")
    server = Server(env, port, workers=workers, log=work / "server.log")
    server.start()
    levels = []
    try:
        apis = [Api(server.url, m["token"]) for m in missions]
        actions = [make_action(apis[i], missions[i]["code"], 2031) for i in range(most)]
        try:
            apis[0].call("GET", "/search?q=Load")
            search = True
        except ApiError:
            search = False  # no search endpoint in this version
        base_versions = sum(apis[i].call("GET", f"/actions/{actions[i]}")["lock_version"] for i in range(most))
        totals = Ledger()
        for count in agents:
            ledger = Ledger()
            stop = threading.Event()
            threads = [threading.Thread(target=_agent_loop, args=(apis[i], missions[i], actions[i], ledger, stop,
                                                                  i, search), daemon=True) for i in range(count)]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            time.sleep(seconds)  # bounded: the generator stops by itself
            stop.set()
            for thread in threads:
                thread.join(timeout=120)
            elapsed = time.monotonic() - started
            everything = [v for values in ledger.latencies.values() for v in values]
            level = {
                "agents": count,
                "seconds": round(elapsed, 1),
                "requests": len(everything),
                "throughput_rps": round(len(everything) / elapsed, 1),
                "p50_ms": round(_percentile(everything, 0.50) * 1000, 1),
                "p95_ms": round(_percentile(everything, 0.95) * 1000, 1),
                "p99_ms": round(_percentile(everything, 0.99) * 1000, 1),
                "errors": dict(ledger.errors),
                "by_operation": {
                    op: {"n": len(v), "p50_ms": round(_percentile(v, 0.5) * 1000, 1),
                         "p95_ms": round(_percentile(v, 0.95) * 1000, 1)}
                    for op, v in sorted(ledger.latencies.items())
                },
                "dispatches_acknowledged": len(ledger.dispatches),
                "action_updates_acknowledged": ledger.action_updates,
            }
            levels.append(level)
            totals.dispatches += ledger.dispatches
            totals.action_updates += ledger.action_updates
            progress(f"{count} agents: {level['throughput_rps']} req/s, p95 {level['p95_ms']} ms, "
                     f"errors {level['errors'] or 0}")
    finally:
        server.stop()
    ids = work / "ids.json"
    ids.write_text(json.dumps({"sent": [d["id"] for d in totals.dispatches], "actions": actions}))
    counted = json.loads(chancery(env, "shell", "-c", _COUNT % {"path": str(ids)}).strip().splitlines()[-1])
    acknowledged_updates = totals.action_updates
    return {
        "engine": "postgresql" if database_url else "sqlite",
        "server_workers": workers,
        "levels": levels,
        "search_in_mix": search,
        "records": {
            "dispatches_acknowledged": len(totals.dispatches),
            "dispatches_sent_in_database": counted["sent"],
            "acknowledged_present": counted["sent_ids_present"],
            "action_updates_acknowledged": acknowledged_updates,
            "action_updates_in_database": counted["action_versions"] - base_versions,
        },
    }


# --- after the crash: the checks ------------------------------------------------------


def check_site(ledger: dict[str, Any]) -> dict[str, Any]:
    """Run inside a process configured for the site (Django set up). Returns the findings."""
    from django.db import connection

    from chancery.audit.services import verify_chain
    from chancery.correspondence import storage
    from chancery.correspondence.models import RELEASED_STATUSES, Attachment, Dispatch, NumberCounter
    from chancery.planning.models import Action

    problems: list[str] = []
    dispatches = Dispatch.objects.unrestricted("crash check")
    acked = {d["id"]: d for d in ledger["dispatches"]}
    found = {d.pk: d for d in dispatches.filter(pk__in=acked)}
    lost = [ref["reference"] for pk, ref in acked.items() if pk not in found or found[pk].reference != ref["reference"]
            or found[pk].status not in RELEASED_STATUSES]
    if lost:
        problems.append(f"{len(lost)} acknowledged dispatches lost, e.g. {lost[0]}")
    for action_id, seen in ledger["actions"].items():
        action = Action.objects.unrestricted("crash check").filter(pk=int(action_id)).first()
        if action is None or action.lock_version < seen["lock_version"] or (
            action.lock_version == seen["lock_version"] and action.progress != seen["progress"]
        ):
            problems.append(f"acknowledged update of action {action_id} lost")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            integrity = cursor.execute("PRAGMA integrity_check").fetchall()
            foreign = cursor.execute("PRAGMA foreign_key_check").fetchall()
        if integrity != [("ok",)]:
            problems.append(f"integrity_check: {integrity[:3]}")
        if foreign:
            problems.append(f"foreign_key_check: {foreign[:3]}")
        integrity_note = "PRAGMA integrity_check ok, foreign_key_check empty"
    else:
        with connection.cursor() as cursor:
            # Every foreign key and unique constraint is enforced by PostgreSQL itself; check
            # that none was left NOT VALID and that the tables read back entirely.
            cursor.execute("SELECT conname FROM pg_constraint WHERE NOT convalidated")
            invalid = cursor.fetchall()
        if invalid:
            problems.append(f"constraints not validated: {invalid[:3]}")
        integrity_note = "all constraints validated"
    # Numbering: per unit and year, 1..N with neither duplicates nor gaps, and the counter at N.
    numbering: dict[tuple[int, int], list[int | None]] = {}
    for row in dispatches.filter(number__isnull=False).values("sending_unit_id", "sent_at__year", "number"):
        numbering.setdefault((row["sending_unit_id"], row["sent_at__year"]), []).append(row["number"])
    for (unit_id, year), numbers in numbering.items():
        if sorted(n or 0 for n in numbers) != list(range(1, len(numbers) + 1)):
            problems.append(f"numbering of unit {unit_id} in {year} has a gap or a duplicate")
        counter = NumberCounter.objects.filter(unit_id=unit_id, year=year).values_list("last_number", flat=True).first()
        if counter != len(numbers):
            problems.append(f"counter of unit {unit_id} in {year} is {counter}, {len(numbers)} numbers used")
    # The file store: every attachment's file present, no file that no attachment names once
    # what interrupted writes left is swept (no server runs now, so nothing is in flight).
    swept = storage.sweep(older_than_seconds=0)
    every = Attachment.objects.unrestricted("stress check: every stored file's name")
    names = set(every.values_list("storage_name", flat=True))
    root = storage.root()
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != storage.SWEPT_MARKER}
    missing = names - on_disk
    orphans = on_disk - names
    if missing:
        problems.append(f"{len(missing)} attachment files missing, e.g. {sorted(missing)[0]}")
    if orphans:
        problems.append(f"{len(orphans)} orphan files in the store, e.g. {sorted(orphans)[0]}")
    chain = verify_chain()
    if not chain.valid:
        problems.append(f"audit log: {chain.message}")
    return {
        "problems": problems,
        "acknowledged_dispatches": len(acked),
        "acknowledged_action_updates": ledger["action_updates"],
        "lost": len(lost),
        "integrity": integrity_note,
        "numbered_dispatches": sum(len(v) for v in numbering.values()),
        "attachment_files": len(names),
        "swept_files": swept,
        "audit_events": chain.events,
    }


def run_checks(env: dict[str, str], ledger: Ledger, work: Path) -> dict[str, Any]:
    path = work / "ledger.json"
    path.write_text(json.dumps({"dispatches": ledger.dispatches, "actions": ledger.actions,
                                "action_updates": ledger.action_updates}))
    output = subprocess.run(
        [sys.executable, "-m", "chancery.backup.stress", "check", str(path)], env=env, capture_output=True,
        text=True, timeout=600, check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"the checks failed to run: {output.stderr.strip()[-2000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> None:
    if len(argv) != 3 or argv[1] != "check":
        raise SystemExit("usage: python -m chancery.backup.stress check LEDGER.json")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
    import django

    django.setup()
    print(json.dumps(check_site(json.loads(Path(argv[2]).read_text()))))


if __name__ == "__main__":
    main(sys.argv)
