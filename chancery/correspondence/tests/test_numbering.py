"""Reference numbering under real concurrency (threads, own connections, file database)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import override_settings

from chancery.correspondence import services
from chancery.correspondence.models import Dispatch, NumberCounter
from chancery.correspondence.numbering import format_reference
from chancery.correspondence.tests.domain_helpers import draft

if TYPE_CHECKING:
    from chancery.accounts.models import User

THREADS = 6


def _run_concurrently(jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            value = job()
            with lock:
                results.append(value)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def test_concurrent_sends_get_distinct_gap_free_numbers(fresh_ministry: Any) -> None:
    head = fresh_ministry.users["hom.dakar"]
    drafts = [draft(fresh_ministry, subject=f"Statistiques consulaires {i}") for i in range(THREADS)]

    def send(pk: int) -> Callable[[], str]:
        return lambda: services.send_dispatch(actor=head, dispatch=pk).reference or ""

    results, errors = _run_concurrently([send(d.pk) for d in drafts])
    assert errors == []
    numbers = sorted(
        n or 0
        for n in Dispatch.objects.unrestricted("test")
        .filter(pk__in=[d.pk for d in drafts])
        .values_list("number", flat=True)
    )
    assert numbers == list(range(1, THREADS + 1))
    assert len(set(results)) == THREADS
    year = Dispatch.objects.unrestricted("test").get(pk=drafts[0].pk).year or 0
    assert NumberCounter.objects.get(unit=fresh_ministry.units["DAKAR"], year=year).last_number == THREADS


def test_double_submission_gives_one_number(fresh_ministry: Any) -> None:
    head = fresh_ministry.users["hom.dakar"]
    d = draft(fresh_ministry)
    results, errors = _run_concurrently(
        [lambda: services.send_dispatch(actor=head, dispatch=d.pk).reference for _ in range(THREADS)]
    )
    assert errors == []
    assert len(set(results)) == 1
    d = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert d.number == 1
    assert NumberCounter.objects.get(unit=d.sending_unit, year=d.year or 0).last_number == 1


@pytest.mark.django_db
def test_reference_template_is_configurable(ministry: Any) -> None:
    assert format_reference(unit_code="LIMA", year=2014, number=584) == "LIMA/2014/0584"
    with override_settings(CHANCERY_REFERENCE_TEMPLATE="{year}-{unit}-{number:06d}"):
        d = draft(ministry)
        d = services.send_dispatch(actor=ministry.users["hom.dakar"], dispatch=d)
        assert d.reference == f"{d.year}-DAKAR-000001"


def test_concurrent_draft_edits_one_wins(fresh_ministry: Any) -> None:
    users = fresh_ministry.users
    d = draft(fresh_ministry)
    editors = [users["counsellor.dakar"], users["hom.dakar"]] * (THREADS // 2)

    def edit(user: User, n: int) -> Callable[[], int]:
        return lambda: (
            services.update_draft(actor=user, dispatch=d.pk, expected_version=1, subject=f"Version {n}").version
        )

    results, errors = _run_concurrently([edit(user, n) for n, user in enumerate(editors)])
    assert results == [2]
    assert len(errors) == len(editors) - 1 and all(isinstance(e, services.DraftConflict) for e in errors)
    from chancery.correspondence.selectors import dispatch_subject

    saved = Dispatch.objects.unrestricted("test").get(pk=d.pk)
    assert saved.version == 2 and dispatch_subject(saved).startswith("Version ")
