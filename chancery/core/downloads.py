"""One way to hand a file to the browser: always as a download, never rendered in our origin."""

from __future__ import annotations

from django.http import HttpResponse
from django.utils.http import content_disposition_header


def file_download(data: bytes, *, filename: str, content_type: str = "application/octet-stream") -> HttpResponse:
    """A file saved to disk by the browser, not displayed.

    `attachment` with an RFC 6266 file name (quotes and non-ASCII escaped), no sniffing, no
    caching on shared machines, and a sandbox CSP in case a browser renders it anyway (an
    uploaded HTML file must not run in Chancery's origin).
    """
    response = HttpResponse(data, content_type=content_type or "application/octet-stream")
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    response["Content-Length"] = str(len(data))
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
