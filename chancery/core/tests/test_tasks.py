"""Background tasks go through the django-tasks database backend and its real worker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django_tasks import task

pytestmark = pytest.mark.django_db


@task()
def _record_probe(label: str) -> str:
    return label.upper()


def test_a_queued_task_waits_for_the_worker_and_then_succeeds(run_tasks: Callable[[], None]) -> None:
    result = _record_probe.enqueue("probe")
    assert result.status == "READY"
    run_tasks()
    result.refresh()
    assert result.status == "SUCCESSFUL"
    assert result.return_value == "PROBE"
