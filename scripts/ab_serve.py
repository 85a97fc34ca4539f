"""Compare two checkouts through the real server: `chancery serve` started from each in turn on one site.

    git worktree add /tmp/before <commit>
    CHANCERY_DATA_DIR=/path/to/site .venv/bin/python scripts/ab_serve.py /tmp/before,. 2 \
        [--database-url postgres://…] [--path /correspondence/]

Each round starts the server (2 workers × 4 threads, as `chancery bench all`) from each checkout in turn and
measures the page for a mission agent and a desk officer at 1 then 8 clients (15 requests per client, after a
warm-up, `chancery.backup.suite._level`), then the floor (the login page) at 8 clients. Alternating the
checkouts in the same minutes is what separates the code's effect from a host whose speed drifts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

READERS = ("counsellor.dakar", "desk.dab1")
PORT = 8700
# Signed-in sessions for the readers, written in a process of the site (second factor done, as after sign-in).
SESSIONS = r"""
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from chancery.accounts.middleware import SESSION_SECOND_FACTOR, SESSION_SEEN, SESSION_STARTED
from chancery.accounts.models import User
keys = {}
for name in %(readers)r:
    user = User.objects.get(username=name)
    now = int(timezone.now().timestamp())
    session = SessionStore()
    session.update({SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: "chancery.accounts.backends.ChanceryBackend",
                    HASH_SESSION_KEY: user.get_session_auth_hash(), SESSION_SECOND_FACTOR: True,
                    SESSION_STARTED: now, SESSION_SEEN: now})
    session.create()
    keys[name] = session.session_key
print(json.dumps(keys))
"""


def _serve(tree: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Run from the checkout: `python -m` puts the working directory first on the path.
    command = [sys.executable, "-m", "chancery.cli", "serve", "--bind", f"127.0.0.1:{PORT}", "--workers", "2",
               "--threads", "4", "--no-collectstatic", "--no-task-worker"]
    server = subprocess.Popen(command, env=env, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=2):
                return server
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)
    os.killpg(server.pid, signal.SIGKILL)
    raise SystemExit(f"the server from {tree} did not answer")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("trees", help="two checkouts, comma-separated: before,after")
    parser.add_argument("rounds", type=int)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--path", default="/correspondence/")
    options = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from chancery.backup.suite import _level

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    if options.database_url:
        env["DATABASE_URL"] = options.database_url
    trees = [Path(t).resolve() for t in options.trees.split(",")]
    setup = SESSIONS % {"readers": READERS}
    output = subprocess.run([sys.executable, "-m", "chancery.cli", "shell", "-c", setup], env=env, cwd=trees[-1],
                            capture_output=True, text=True, check=True).stdout
    sessions = json.loads(output.strip().splitlines()[-1])
    base = f"http://127.0.0.1:{PORT}"
    for round_number in range(1, options.rounds + 1):
        for tree in trees:
            server = _serve(tree, env)
            try:
                for name in READERS:
                    cookie = {"Cookie": f"chancery_session={sessions[name]}"}
                    one = _level(base + options.path, cookie, 1, 15)
                    eight = _level(base + options.path, cookie, 8, 15)
                    floor = _level(base + "/accounts/login/", {}, 8, 15)
                    print(f"round {round_number} {tree.name} {name}: 1 client {one['rps']} req/s (p50 {one['p50_ms']} "
                          f"ms), 8 clients {eight['rps']} req/s (p50 {eight['p50_ms']} ms), floor at 8 clients "
                          f"{floor['rps']} req/s", flush=True)
            finally:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait()


if __name__ == "__main__":
    main()
