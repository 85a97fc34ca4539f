"""Compare two checkouts on one site, alternating them so that a noisy host slows both alike.

    git worktree add /tmp/before <commit>
    CHANCERY_DATA_DIR=/path/to/site .venv/bin/python scripts/ab_trees.py \
        '[["desk.dab1", "/correspondence/", 0], ["desk.dab1", "/api/v1/inbox", 1]]' 3 /tmp/before .

Each round runs each checkout in its own process (Django's test client, the whole middleware and
template stack; an API page with a token when the third field is 1): three warm-ups, then the
median of 12 requests per page, in wall time and in the process's CPU time (which other
processes on a busy host disturb less). Printed: the medians over the rounds, before and after.
Two configurations of one checkout: the same tree twice, with `AB_AFTER_ENV='{"NAME": "value"}'`.
"""

import json
import os
import statistics
import subprocess
import sys

PAGES = json.loads(sys.argv[1])  # [[username, path, api?], ...]
ROUNDS = int(sys.argv[2])
BEFORE, AFTER = (os.path.abspath(p) for p in sys.argv[3:5])
CHILD = r"""
import os, sys, time, statistics, json
sys.path.insert(0, os.environ["TREE"])
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
import django
django.setup()
from django.test import Client
from django.conf import settings
settings.ALLOWED_HOSTS = ["*"]
from chancery.accounts.models import User
from chancery.accounts.services import issue_api_token
out = {}
for user, path, api in json.loads(os.environ["PAGES"]):
    u = User.objects.get(username=user)
    if api:
        token = issue_api_token(user=u, name="ab")
        c = Client(headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    else:
        c = Client()
        c.force_login(u)
        ss = c.session
        ss["chancery_second_factor"] = True  # as if signed in with the second factor
        ss.save()
    for _ in range(3):
        assert c.get(path).status_code == 200, path
    ts, cpu = [], []
    for _ in range(12):
        s, sc = time.perf_counter(), time.process_time()
        c.get(path)
        ts.append((time.perf_counter() - s) * 1000)
        cpu.append((time.process_time() - sc) * 1000)
    out[f"{user} {path}"] = [statistics.median(ts), statistics.median(cpu)]
print("RESULT", json.dumps(out))
"""
res = {"before": [], "after": []}
for _round in range(ROUNDS):
    for name, tree in (("before", BEFORE), ("after", AFTER)):
        # AB_BEFORE_ENV / AB_AFTER_ENV (JSON objects): settings of one side only, to compare two
        # configurations of one checkout (give the same tree twice).
        extra = json.loads(os.environ.get(f"AB_{name.upper()}_ENV", "{}"))
        env = dict(os.environ, TREE=tree, PAGES=json.dumps(PAGES), **extra)
        p = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, cwd=tree)
        line = [out for out in p.stdout.splitlines() if out.startswith("RESULT")]
        if not line:
            print(p.stderr[-2000:])
            sys.exit(1)
        res[name].append(json.loads(line[0][7:]))
keys = res["before"][0].keys()
for k in keys:
    b, bc = (statistics.median(x[k][i] for x in res["before"]) for i in (0, 1))
    a, ac = (statistics.median(x[k][i] for x in res["after"]) for i in (0, 1))
    print(f"{k:60s} before {b:7.1f}  after {a:7.1f}  ({(a - b) / b * 100:+.0f} %)   "
          f"CPU {bc:7.1f} -> {ac:7.1f} ({(ac - bc) / bc * 100:+.0f} %)")
