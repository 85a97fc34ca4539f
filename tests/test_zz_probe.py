import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

@pytest.mark.django_db
def test_probe(client_for):
    c = client_for("desk.dab1")
    for url in ["/notifications/", "/correspondence/", "/planning/"]:
        c.get(url)
        with CaptureQueriesContext(connection) as q:
            r = c.get(url)
        print("\n==", url, r.status_code, len(q))
        for x in q.captured_queries:
            print("  ", x["time"], x["sql"][:230])
