"""Time the API dispatch list's filters (and the search page) on a generated ministry, for issue 10.

    CHANCERY_DATA_DIR=/path/to/data [DATABASE_URL=...] [CHANCERY_PG_PREPARED=false] \\
        .venv/bin/python scripts/measure_filters.py OUT.json      # ROUNDS=7, ONLY=<regex of labels>

For four readers (the bench's mission agent, desk officer, director and registry clerk), each
filter's URL is requested ROUNDS times in turn on one connection through Django's test client (full
middleware and view stack), narrow and wide values of the same statement one after the other (so a
plan made once, with prepared statements, serves both); the p50 and max of the rounds after the
first two are printed and written to OUT.json. Results: bench/results/filters-1m.md.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import django

API = "/api/v1/dispatches?"
FILTERS = [
    ("dates, last month", API + "date_from=2026-11-01&date_to=2026-11-30"),
    ("dates, ten years", API + "date_from=2016-12-01&date_to=2026-11-30"),
    ("dates, a month in 2017", API + "date_from=2017-01-01&date_to=2017-01-31"),
    ("from a date (recent)", API + "date_from=2026-11-20"),
    ("from a date (old)", API + "date_from=2017-01-01"),
    ("until a date (old)", API + "date_to=2017-02-01"),
    ("until a date (recent)", API + "date_to=2026-11-30"),
    ("unit DAKAR", API + "unit=DAKAR"),
    ("unit DAB/1", API + "unit=DAB/1"),
    ("unit LIMA", API + "unit=LIMA"),
    ("classification secret", API + "classification=secret"),
    ("classification unclassified", API + "classification=unclassified"),
    ("status closed", API + "status=closed"),
    ("status sent", API + "status=sent"),
    ("direction incoming", API + "direction=incoming"),
    ("q frequent", API + "q=programme"),
    ("q rare", API + "q=agroalimentaire"),
    ("q absent", API + "q=zzzqqq"),
    ("q a reference", API + "q=DAKAR/2019/01"),
    ("q two letters", API + "q=zq"),
    ("reference picker, frequent", "/correspondence/references/?q=programme"),
    ("reference picker, rare", "/correspondence/references/?q=agroalimentaire"),
    ("reference picker, absent", "/correspondence/references/?q=zzzqqq"),
    ("unit + dates", API + "unit=DAKAR&date_from=2026-01-01&date_to=2026-11-30"),
    ("search page, frequent", "/search/?q=programme"),
    ("search page, rare", "/search/?q=patrimoine"),
    ("search page, absent", "/search/?q=zzzqqq"),
]
READERS = {
    "mission agent": "counsellor.dakar",
    "desk officer": "desk.dab1",
    "director": "director.dab",
    "registry clerk": "clerk.sgbo",
}


def main(out_path: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chancery.settings")
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    from chancery.accounts import middleware
    from chancery.accounts.models import User
    from chancery.accounts.services import issue_api_token

    settings.ALLOWED_HOSTS = ["*"]
    rounds = int(os.environ.get("ROUNDS", "7"))
    only = os.environ.get("ONLY")
    filters = [(label, url) for label, url in FILTERS if not only or re.search(only, label)]
    out: dict[str, Any] = {"prepared": os.environ.get("CHANCERY_PG_PREPARED", ""), "vendor": connection.vendor,
                           "rows": []}  # fmt: skip
    for role, username in READERS.items():
        user = User.objects.get(username=username)
        token = issue_api_token(user=user, name="measure_filters", lifetime_days=1)
        client = Client()
        client.force_login(user)
        session = client.session
        now = int(time.time())
        session.update({middleware.SESSION_SECOND_FACTOR: True, middleware.SESSION_STARTED: now,
                        middleware.SESSION_SEEN: now})  # fmt: skip
        session.save()
        times: dict[str, list[float]] = {label: [] for label, _url in filters}
        for _round in range(rounds):
            for label, url in filters:
                headers = {"HTTP_AUTHORIZATION": "Bearer " + token} if url.startswith("/api/") else {}
                started = time.perf_counter()
                response = client.get(url, **headers)
                times[label].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (url, response.status_code)
        for label, _url in filters:
            warm = times[label][2:]
            row = {"role": role, "label": label, "p50": round(statistics.median(warm), 1),
                   "max": round(max(warm), 1), "first": round(times[label][0], 1)}  # fmt: skip
            out["rows"].append(row)
            print(f"{role:15} {label:28} p50 {row['p50']:8.1f}  max {row['max']:8.1f}  first {row['first']:8.1f}",
                  flush=True)  # fmt: skip
    Path(out_path).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
