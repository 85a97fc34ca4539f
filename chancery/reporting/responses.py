"""The one download response for a finished report job (page and API alike): audited as an export."""

from __future__ import annotations

from django.http import HttpResponse

from chancery.accounts.models import User
from chancery.core.downloads import file_download
from chancery.reporting import renderers, services, tasks
from chancery.reporting.models import ReportJob


def job_file_response(*, user: User, job: ReportJob) -> HttpResponse:
    services.record_export(
        user=user,
        table=f"job-{job.kind}",
        output_format=job.output_format,
        rows=job.steps_total,
        filters=dict(job.parameters),
    )
    return file_download(
        tasks.read_result(job),
        filename=job.filename,
        content_type=renderers.FORMATS.get(job.output_format, "application/octet-stream"),
    )
