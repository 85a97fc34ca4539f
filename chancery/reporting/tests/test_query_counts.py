"""The reporting page that lists an agent's report jobs costs as many SQL queries for one job
as for many (it shows the latest ten)."""

from __future__ import annotations

from typing import Any

from chancery.core.tests.query_counts import MANY, ListPage, check_lists
from chancery.reporting.models import JobKind, JobStatus, ReportJob

PAGES = [ListPage("director.dab", "/reporting/compile/", lambda u: ReportJob.objects.visible_to(u).count())]


def _seed(ministry: Any, count: int) -> None:
    statuses = list(JobStatus)
    ReportJob.objects.bulk_create(
        ReportJob(owner=ministry.users["director.dab"], kind=JobKind.COMPILATION, status=statuses[n % len(statuses)],
                  parameters={"year": 2026, "region": "", "language": "fr"})
        for n in range(count)
    )  # fmt: skip


def test_job_list_costs_the_same_queries_for_one_job_and_many(ministry: Any) -> None:
    check_lists(PAGES, ministry, seed_few=lambda: _seed(ministry, 1), seed_many=lambda: _seed(ministry, MANY + 5))
