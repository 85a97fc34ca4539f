from __future__ import annotations

from chancery.core.downloads import file_download


def test_a_download_is_never_rendered_in_our_origin() -> None:
    response = file_download(b"<script>alert(1)</script>", filename="note.html", content_type="text/html")
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "no-store" in response["Cache-Control"]
    assert response["Content-Length"] == str(len(response.content))


def test_file_names_cannot_inject_headers() -> None:
    response = file_download(b"x", filename='rapport"; filename="evil.exe\r\nX-Injected: 1.pdf')
    disposition = response["Content-Disposition"]
    assert "\r" not in disposition and "\n" not in disposition
    assert 'filename="evil.exe' not in disposition
    assert "X-Injected" not in response


def test_non_ascii_names_are_kept() -> None:
    response = file_download(b"x", filename="Programme d'actions 2026 — Dakar.xlsx")
    assert "filename*=utf-8''" in response["Content-Disposition"].lower()
