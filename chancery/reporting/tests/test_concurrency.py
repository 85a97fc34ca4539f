"""Two agents freezing the same synthesis at the same moment get one snapshot (real threads)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from chancery.reporting import services
from chancery.reporting.models import Synthesis
from chancery.reporting.tests.scenario import build


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_freezes_make_one_snapshot(fresh_ministry: Any) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them by locking the whole file)")
    scenario = build(fresh_ministry)
    dakar = scenario.programmes["DAKAR"]
    from chancery.accounts.models import User

    hom = User.objects.unrestricted("test").get(username="hom.dakar")
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def freeze() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(services.freeze(user=hom, programme=dakar))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=freeze) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Synthesis.objects.unrestricted("test").filter(programme=dakar).count() == 1
    assert len({r.pk for r in results}) == 1 and len({r.frozen_at for r in results}) == 1
